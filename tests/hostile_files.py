"""Bad and odd input files for the CLI bad-input suite (tests/test_cli_bad_inputs.py).

``make_inputs(folder, model)`` writes every file once; the cases refer to them by name.
"""
from __future__ import annotations

import bz2
import gzip
import json
import os
import warnings
from pathlib import Path

import mrcfile
import numpy as np

from cryonb import Map, density, io


def make_inputs(folder: Path, model) -> None:
    """Write the good and bad models, maps, latents and checkpoints of the suite into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    _models(folder, model)
    with warnings.catch_warnings():   # mrcfile warns on writing the NaN and inf maps
        warnings.simplefilter("ignore")
        _maps(folder, model)
    _latents(folder)
    _run_folders(folder)
    _sequences_and_pools(folder, model)


def _put(folder: Path, name: str, content) -> None:
    (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def _models(d: Path, model) -> None:
    good = io.write_model(model, d / "good.pdb")
    io.write_model(model, d / "good.cif")
    text = good.read_text()
    lines = text.splitlines()
    atoms = [l for l in lines if l.startswith("ATOM")]
    _put(d, "garbage.pdb", "this is not a coordinate file\njust text\n")
    _put(d, "empty.pdb", b"")
    _put(d, "header_only.pdb", "HEADER    NOTHING HERE\nEND\n")
    _put(d, "binary.pdb", os.urandom(3000))
    _put(d, "damaged_coords.pdb", "\n".join(l[:31] + "x.y.z" + l[36:] if i == 40 else l for i, l in enumerate(lines)))
    _put(d, "nan_coords.pdb", "\n".join(l[:30] + "     nan" + l[38:] if i == 40 else l for i, l in enumerate(lines)))
    _put(d, "broken.cif", (d / "good.cif").read_text()[:6000])
    _put(d, "short_lines.pdb", "\n".join(l[:40] for l in atoms[:50]) + "\nEND\n")
    _put(d, "waters_only.pdb", _hetatm([("HOH", "O", "O")] * 5))
    _put(d, "ions_only.pdb", _hetatm([("ZN", "ZN", "ZN"), ("MG", "MG", "MG")]))
    _put(d, "ligand_only.pdb", _hetatm([("XYZ", "C1", "C"), ("XYZ", "C2", "C"), ("XYZ", "O1", "O")], same=True))
    _put(d, "one_atom.pdb", atoms[1] + "\nEND\n")
    _put(d, "model.xyz", text)
    _put(d, "fake.pdb.gz", b"not gzip at all")
    _put(d, "fake.cif.bz2", b"not bzip2 at all")
    _put(d, "cut.pdb.gz", gzip.compress(text.encode())[:500])
    _put(d, "good.pdb.bz2", bz2.compress(text.encode()))
    (d / "folder.pdb").mkdir()
    far = model.clone()
    io.set_model_xyz(far, io.model_xyz(far) + 500.0)
    io.write_model(far, d / "far.pdb")
    same = model.clone()
    io.set_model_xyz(same, np.zeros_like(io.model_xyz(same)))
    io.write_model(same, d / "collapsed.pdb")
    huge = model.clone()
    io.set_model_xyz(huge, io.model_xyz(huge) * 1e6)
    io.write_model(huge, d / "huge.cif")


def _hetatm(atoms, same: bool = False) -> str:
    rows = []
    for i, (res, name, el) in enumerate(atoms):
        seq = 1 if same else i + 1
        rows.append(f"HETATM{i + 1:5d} {name:<4s} {res:>3s} A{seq:4d}    {3.0 * i:8.3f}{1.0:8.3f}{2.0:8.3f}"
                    f"  1.00 20.00          {el:>2s}")
    return "\n".join(rows) + "\nEND\n"


def _maps(d: Path, model) -> None:
    fitted = density.simulate_map(model, density.SimulationConfig(resolution=6.0, voxel_size=2.0, padding=6.0))
    fitted = density.add_noise(fitted, snr=2.0, seed=0)
    io.write_map(fitted, d / "good.mrc")
    io.write_map(fitted, d / "g_half1.mrc")
    io.write_map(density.add_noise(fitted, snr=2.0, seed=1), d / "second.mrc")
    raw = (d / "good.mrc").read_bytes()
    shape = fitted.data.shape
    io.write_map(Map(np.random.default_rng(1).normal(size=(36, 36, 36)), 2.0), d / "other_grid.mrc")
    io.write_map(Map(np.zeros(shape), 2.0, origin=fitted.origin), d / "zero.mrc")
    io.write_map(Map(np.full(shape, 3.0), 2.0, origin=fitted.origin), d / "constant.mrc")
    _put(d, "truncated.mrc", raw[: len(raw) // 2])
    _put(d, "header_only.mrc", raw[:1024])
    _put(d, "corrupt.mrc", os.urandom(4096))
    _put(d, "empty.mrc", b"")
    _put(d, "text.mrc", "not a map\n" * 200)
    _put(d, "fake.mrc.gz", b"not gzip")
    nan = fitted.data.copy()
    nan.flat[5] = np.nan
    _raw_map(d / "nan.mrc", nan)
    _raw_map(d / "inf.mrc", np.where(fitted.data > fitted.data.max() * 0.9, np.inf, fitted.data))
    _header(d / "zero_voxel.mrc", raw, cella=(0.0, 70.0, 70.0))
    _header(d / "negative_voxel.mrc", raw, cella=(-70.0, 70.0, 70.0))
    _header(d / "nan_cell.mrc", raw, cella=(np.nan, 70.0, 70.0))
    _header(d / "huge_cell.mrc", raw, cella=(1e30, 1e30, 1e30))
    _header(d / "tiny_cell.mrc", raw, cella=(0.1, 0.1, 0.1))
    _header(d / "far_origin.mrc", raw, origin=(1e9, 0.0, 0.0))
    _header(d / "nan_origin.mrc", raw, origin=(np.nan, 0.0, 0.0))
    _header(d / "bad_axes.mrc", raw, axes=(1, 1, 1))
    _header(d / "negative_grid.mrc", raw, nxyz=(-5, shape[1], shape[0]))
    _header(d / "huge_grid.mrc", raw, nxyz=(100000, 100000, 100000))
    _header(d / "huge_extended_header.mrc", raw, nsymbt=10**9)
    _header(d / "bad_mode.mrc", raw, mode=9)
    _raw_map(d / "flat.mrc", np.random.default_rng(2).normal(size=(1, 40, 40)))
    _raw_map(d / "one_voxel.mrc", np.ones((1, 1, 1)))
    _raw_map(d / "tiny_box.mrc", np.random.default_rng(3).normal(size=(4, 4, 4)))
    (d / "folder.mrc").mkdir()


def _raw_map(path: Path, data) -> None:
    """Write ``data`` with mrcfile directly (a Map refuses what these files hold), 2 Å voxels."""
    with mrcfile.new(path) as mrc:
        mrc.set_data(np.asarray(data, np.float32))
        mrc.voxel_size = 2.0


def _header(path: Path, raw: bytes, cella=None, origin=None, axes=None, nxyz=None, nsymbt=None, mode=None) -> None:
    """``raw`` MRC bytes with header words replaced (MRC2014 layout)."""
    head = bytearray(raw)
    put = {0: nxyz, 10: cella, 16: axes, 49: origin}
    for word, values in put.items():
        if values is not None:
            kind = np.int32 if word in (0, 16) else np.float32
            head[4 * word: 4 * word + 12] = np.asarray(values, kind).tobytes()
    if nsymbt is not None:
        head[92:96] = np.int32(nsymbt).tobytes()
    if mode is not None:
        head[12:16] = np.int32(mode).tobytes()
    path.write_bytes(bytes(head))


def _latents(d: Path) -> None:
    np.save(d / "z2.npy", np.array([[0.0], [1.0]]))
    np.save(d / "z_same.npy", np.array([[0.5], [0.5]]))
    np.save(d / "z3.npy", np.array([[0.0], [0.5], [1.0]]))
    np.save(d / "z_nan.npy", np.array([[0.0], [np.nan]]))
    _put(d, "z_text.txt", "0.0\nzero\n")
    _put(d, "z_garbage.pkl", b"\x80\x04not a pickle")
    _put(d, "z_garbage.npy", b"not numpy")


def _run_folders(d: Path) -> None:
    """Run folders to resume: damaged checkpoints, edited or foreign arguments."""
    def folder(name, arguments, checkpoint: bytes | None = b"x" * 100, first="0_patches_coarse.npz"):
        run = d / name
        (run / "checkpoints").mkdir(parents=True)
        if checkpoint is not None:
            (run / "checkpoints" / first).write_bytes(checkpoint)
        (run / "arguments.json").write_text(arguments if isinstance(arguments, str) else json.dumps(arguments))

    refine_args = {"model": str(d / "good.pdb"), "map": str(d / "good.mrc"), "resolution": 6.0}
    folder("refine_damaged_checkpoint", refine_args)
    folder("refine_bad_arguments", "{not json")
    folder("refine_list_arguments", "[1, 2]")
    folder("refine_changed_input", {**refine_args, "model": str(d / "no_longer_here.pdb")})
    folder("series_run", {"maps": [str(d / "good.mrc")], "model": str(d / "good.pdb"), "resolution": 6.0})
    folder("series_damaged_checkpoint", {"maps": [str(d / "good.mrc"), str(d / "good.mrc")],
                                         "model": str(d / "good.pdb"), "resolution": 6.0}, first="start.pt")
    _put(d, "a_file_not_a_run", "x")


def _sequences_and_pools(d: Path, model) -> None:
    """FASTA files and template folders for rerank and trace."""
    from cryonb.trace.thread import structure_sequence
    seq = structure_sequence(model)
    _put(d, "good.fasta", f">good\n{seq[:60]}\n{seq[60:]}\n")
    _put(d, "empty.fasta", b"")
    _put(d, "two.fasta", f">a\n{seq}\n>b\n{seq}\n")
    _put(d, "dna.fasta", ">dna\nACGTACGTACGTACGTAACGT\n")
    _put(d, "bad_letter.fasta", f">bad\n{seq[:30]}1{seq[31:]}\n")
    _put(d, "short.fasta", ">short\nMKV\n")
    _put(d, "header_only.fasta", ">nothing\n")
    _put(d, "binary.fasta", bytes(range(128, 256)) * 4)
    pool = d / "pool"
    pool.mkdir()
    io.write_model(model, pool / "good.pdb")
    (d / "empty_pool").mkdir()
    junk = d / "junk_pool"
    junk.mkdir()
    _put(junk, "garbage.pdb", "this is not a coordinate file\n")
    _put(junk, "waters.pdb", _hetatm([("HOH", "O", "O")] * 5))
    io.write_model(_first_residues(model, 8), d / "ca_few.pdb")
    _rerank_folders(d, model)


def _rerank_folders(d: Path, model) -> None:
    """A rerank run folder as `cryonb rerank` writes it (good_rerank) and damaged ones for assemble."""
    head = "rank,template,chain,crscore,placed\n"
    for name, row, placed in [("good_rerank", "1,good,A,0.8,placed/01_good_A.cif", True),
                              ("rerank_placed_missing", "1,good,A,0.8,placed/01_good_A.cif", False),
                              ("rerank_nothing_placed", "1,good,A,0.8,", False)]:
        folder = d / name
        (folder / "placed").mkdir(parents=True)
        _put(folder, "ranking.csv", head + row + "\n")
        if placed:
            io.write_model(model, folder / "placed" / "01_good_A.cif")
        io.write_model(model, folder / "predicted_ca.cif")


def _first_residues(model, n: int):
    """A copy of ``model`` with only its first ``n`` residues."""
    st = model.clone()
    chain = st[0][0]
    while len(chain) > n:
        del chain[len(chain) - 1]
    return st
