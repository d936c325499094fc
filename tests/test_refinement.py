"""GMM-DNN refinement: Fourier projections, rigid groups, patches, refine() end to end, checkpoints, CLI.

Runs are shortened (few iterations, few projections, one torch thread) to check behaviour, not quality;
the benchmarks measure quality.
"""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import gemmi
import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from cryonb import cli, data
from cryonb.data.adk import core_domain_mask
from cryonb.data.refinement_cases import adk_polish
from cryonb.density import SimulationConfig, simulate_map
from cryonb.errors import CryonbError, MapError, OverlapError
from cryonb.geometry.topology import build_topology
from cryonb.io import model_xyz, read_map, set_model_xyz, write_map, write_model
from cryonb.perturb import jitter
from cryonb.refinement import RefineConfig, StageConfig, pipeline, refine, steps
from cryonb.refinement.gmm import ModelGMM
from cryonb.runs import load_run
from cryonb.validation.headline import KEYS
from cryonb.refinement.plan import plan_steps
from cryonb.refinement.patches import atom_groups, kmeans_patches
from cryonb.refinement.projection import (FourierGrid, MapProjections, frc_per_ring, gmm_projections,
                                          random_rotations)
from cryonb.refinement.rigid import axis_angle_to_matrix, move_groups
from cryonb.superpose import rmsd, superpose
from tests.models import first_residues

TABLE_KEYS = ["rama_outliers_pct", "rama_favored_pct", "rotamer_outliers_pct", "clashscore", "bond_rmsz",
              "angle_rmsz", "molprobity_score", "fsc_average"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def fragment(adk_closed):
    """AdK residues 1-40: the clean model, its 4 Å map (1 Å voxels) and a 0.3 Å jittered start."""
    st = first_residues(adk_closed, 40)
    st.name = "adk40"
    m = simulate_map(st, SimulationConfig(resolution=4.0, voxel_size=1.0))
    return st, m, jitter(st, 0.3, seed=0)


def tiny_config(**changes) -> RefineConfig:
    """Every step for a few iterations: patches (8, so no coarse step), residues, atoms, polish."""
    short = StageConfig(iterations=4, round_length=4, batch=8)
    cfg = RefineConfig(threads=1, n_patches=8, patches=short, residues=short,
                       atoms=dataclasses.replace(short, geometry_scale=1000.0), polish_steps=20,
                       rebuild_rotamers=False, n_orientations=16)
    return dataclasses.replace(cfg, **changes)


def ca(st) -> np.ndarray:
    return np.array([a.pos.tolist() for ch in st[0] for r in ch for a in r if a.name == "CA"])


# ----------------------------------------------------------------------------- projections
@pytest.mark.parametrize("per_atom", [False, True])
def test_gmm_projection_matches_numerical_transform_of_projected_gaussians(adk_closed, per_atom):
    xyz, z = model_xyz(adk_closed)[:6], np.array([7.0, 6, 6, 8, 6, 6])
    sigma, rot = 0.675, random_rotations(1, seed=3)
    if per_atom:         # widths as B-factors 0-60 Å^2 would make them
        sigma = np.sqrt(sigma ** 2 + np.array([0.0, 10, 20, 30, 45, 60]) / (8 * np.pi ** 2))
    centre = xyz.mean(0) + [0.7, -0.3, 0.4]
    grid = FourierGrid.build(pixel=1.0, size=48, resolution=3.0)
    real, imag = gmm_projections(torch.as_tensor(xyz), torch.as_tensor(z), torch.as_tensor(sigma),
                                 torch.as_tensor(rot), torch.as_tensor(centre), grid)
    sigma = np.broadcast_to(sigma, (6,))
    # brute force: integrate the normalised 3D Gaussians along the view axis on a 0.25 Å grid,
    # then take the 2D transform of that image by direct summation over its pixels
    h = 0.25
    uvw = (xyz - centre) @ rot[0].T
    axes = [np.arange(lo - 5 * sigma.max(), hi + 5 * sigma.max(), h) for lo, hi in zip(uvw.min(0), uvw.max(0))]
    u, v, w = np.meshgrid(*axes, indexing="ij")
    pts = centre + np.stack([u, v, w], -1) @ rot[0]                  # x = centre + R^T (u, v, w)
    density = sum(a * np.exp(-((pts - p) ** 2).sum(-1) / (2 * s ** 2)) / (2 * np.pi * s ** 2) ** 1.5
                  for a, p, s in zip(z, xyz, sigma))
    image = density.sum(-1) * h                                       # [u, v]
    eu = np.exp(-2j * np.pi * grid.kx[:, None] * axes[0])            # (n_k, n_u)
    ev = np.exp(-2j * np.pi * grid.ky[:, None] * axes[1])
    brute = np.einsum("ku,uv,kv->k", eu, image, ev) * h * h
    coeffs = real[0].numpy() + 1j * imag[0].numpy()
    assert np.linalg.norm(coeffs - brute) / np.linalg.norm(brute) < 1e-3


def test_map_projections_agree_with_gmm_of_the_same_model(adk_closed, adk_open):
    """FRC ~1 for the model the map was simulated from, far lower for AdK open placed on its CORE."""
    resolution = 4.0
    # simulated at 0.9 x resolution, so every kept ring lies below the simulation's low-pass edge
    sim = SimulationConfig(resolution=0.9 * resolution, voxel_size=1.0, method="gaussian")
    m = simulate_map(adk_closed, sim)
    proj = MapProjections.compute(m, resolution, n_orientations=4, seed=0)
    topo = build_topology(adk_closed, warn=False)
    opened = adk_open.clone()
    set_model_xyz(opened, superpose(model_xyz(adk_open), model_xyz(adk_closed), core_domain_mask(adk_open)))
    target = tuple(torch.as_tensor(c, dtype=torch.float64) for c in (proj.coeffs.real, proj.coeffs.imag))
    rings = proj.grid.rings_between(100.0, resolution)
    frc = {}
    for name, st in (("closed", adk_closed), ("open", opened)):
        gmm = ModelGMM.from_topology(topo, topo.xyz(st), sim.resolution)
        z = torch.as_tensor([gemmi.Element(e).atomic_number for e in topo.atoms.elements], dtype=torch.float64)
        model = gmm_projections(torch.as_tensor(gmm.xyz), z, gmm.sigma,   # the "gaussian" map weighs by Z
                                torch.as_tensor(proj.rotations), torch.as_tensor(proj.centre), proj.grid)
        frc[name] = frc_per_ring(model, target, torch.as_tensor(proj.grid.ring),
                                 proj.grid.n_rings).numpy()[:, rings]
    assert proj.grid.ring_resolution()[rings[-1]] >= resolution - 1e-6
    assert frc["closed"][:, :-1].min() > 0.99 and frc["closed"][:, -1].min() > 0.9
    assert frc["open"].mean() < frc["closed"].mean() - 0.3


def test_frc_rings_stop_inside_the_resolution_limit():
    """No kept ring reaches past the limit: a ring centred on it is left out (its outer half lies
    where a map filtered at that resolution has no signal)."""
    from cryonb.refinement.projection import FourierGrid
    grid = FourierGrid.build(pixel=2.0, size=40, resolution=8.0)     # ring 10 is centred on 8 Å
    rings = grid.rings_between(100.0, 8.0)
    assert rings.max() == 9 and rings.min() == 1
    outer = grid.size * grid.pixel / (rings + 0.5)
    assert outer.min() >= 8.0
    assert list(grid.rings_between(100.0, 7.6)) == list(range(1, 11))   # 80 / 10.5 = 7.62 Å


def test_gmm_weighs_atoms_by_electron_scattering_factor(adk_closed):
    topo = build_topology(adk_closed, warn=False)
    gmm = ModelGMM.from_topology(topo, topo.xyz(adk_closed), 4.0)
    weight = {e: gmm.amplitude[topo.atoms.elements == e][0] for e in ("C", "N", "O", "S")}
    assert weight["O"] < weight["N"] < weight["C"] < weight["S"]          # unlike electron counts
    assert abs(weight["C"] - 2.51) < 0.01 and abs(weight["S"] / weight["C"] - 2.06) < 0.02


# ----------------------------------------------------------------------------- rigid groups
def test_move_groups_identity_at_zero_with_finite_gradient():
    xyz = torch.randn(10, 3, dtype=torch.float64)
    group = torch.tensor([0] * 4 + [1] * 6)
    centre = torch.stack([xyz[:4].mean(0), xyz[4:].mean(0)])
    rot = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    moved = move_groups(xyz, group, centre, rot, torch.zeros(2, 3, dtype=torch.float64))
    assert torch.allclose(moved, xyz, atol=1e-12)
    moved.pow(2).sum().backward()
    assert torch.isfinite(rot.grad).all()


def test_move_groups_is_rigid_per_group_and_matches_scipy():
    gen = torch.Generator().manual_seed(0)
    xyz = 10 * torch.randn(12, 3, dtype=torch.float64, generator=gen)
    group = torch.tensor([0, 1, 2] * 4)
    centre = torch.stack([xyz[group == g].mean(0) for g in range(3)])
    rot = torch.tensor([[[0.3, -1.2, 2.0], [1e-7, 0.0, -2e-7], [0.0, 3.0, 0.0]]], dtype=torch.float64)
    shift = torch.randn(1, 3, 3, dtype=torch.float64, generator=gen)
    moved = move_groups(xyz, group, centre, rot, shift)[0]
    for g in range(3):
        a, b = xyz[group == g], moved[group == g]
        assert torch.allclose(torch.cdist(a, a), torch.cdist(b, b), atol=1e-9)
        r = Rotation.from_rotvec(rot[0, g].numpy()).as_matrix()
        expect = (a - centre[g]).numpy() @ r.T + centre[g].numpy() + shift[0, g].numpy()
        assert np.allclose(b.numpy(), expect, atol=1e-9)
    assert np.allclose(axis_angle_to_matrix(rot[0]).numpy(), Rotation.from_rotvec(rot[0].numpy()).as_matrix(),
                       atol=1e-12)


# ----------------------------------------------------------------------------- patches
@pytest.fixture(scope="module")
def protease():
    """4E43: HIV protease dimer (chains A, B: 99 residues each) with a 6-residue peptide (chain C)."""
    st = data.load_corpus_structure("4E43")
    topo = build_topology(st, warn=False)
    return topo, topo.xyz(st)


@pytest.mark.parametrize("n", [3, 4, 7, 64])
def test_kmeans_patches_keep_residues_and_chains_whole(protease, n):
    topo, xyz = protease
    labels = kmeans_patches(topo, xyz, n, seed=0)
    assert labels.shape == (len(topo.residues),)
    assert sorted(set(labels.tolist())) == list(range(labels.max() + 1))
    groups = atom_groups(topo, labels)
    for r in range(len(topo.residues)):              # a residue is never split
        assert len(set(groups[topo.atoms.residue == r].tolist())) == 1
    chains = np.array([res.chain for res in topo.residues])
    for patch in range(labels.max() + 1):             # no patch spans two chains
        assert len(set(chains[labels == patch])) == 1
    assert labels.max() + 1 <= max(n, 3)              # at most n (one per chain at least)
    assert np.array_equal(labels, kmeans_patches(topo, xyz, n, seed=0))


# ----------------------------------------------------------------------------- refine()
def test_refine_polishes_noisy_adk_in_its_map():
    case = adk_polish()
    start_xyz, map_data = model_xyz(case.model), case.map.data.copy()
    short = StageConfig(iterations=20, batch=16)
    # coarse_patches=False: RefineConfig has no setting to shorten the coarse patch step
    config = RefineConfig(threads=1, coarse_patches=False,
                          patches=dataclasses.replace(short, start_resolution=6.0), residues=short,
                          polish_steps=100, n_orientations=32)
    result = refine(case.model, case.map, case.resolution, config)
    assert np.array_equal(model_xyz(case.model), start_xyz) and np.array_equal(case.map.data, map_data)
    assert [s.name for s in result.steps] == ["patches", "residues", "polish"]   # 3 Å: no atoms decoder
    assert result.after["fsc_average"] > result.before["fsc_average"]
    assert model_xyz(result.structure).shape == start_xyz.shape and np.isfinite(result.xyz).all()
    assert rmsd(ca(result.structure), ca(case.reference)) < rmsd(ca(case.model), ca(case.reference))
    assert result.after["bond_rmsz"] < result.before["bond_rmsz"]
    assert set(TABLE_KEYS) <= set(result.before) and set(TABLE_KEYS) <= set(result.after)


def test_default_plan_leaves_the_atoms_decoder_out_at_high_resolution():
    assert plan_steps(RefineConfig(), True, 5.0) == ["patches_coarse", "patches", "residues", "atoms", "polish"]
    assert plan_steps(RefineConfig(), True, 3.0) == ["patches_coarse", "patches", "residues", "polish"]
    asked = RefineConfig(stages=("residues", "atoms"))
    assert plan_steps(asked, True, 3.0) == ["residues", "rotamers", "atoms", "polish"]
    assert plan_steps(dataclasses.replace(asked, rebuild_rotamers=False), True, 3.0)[1] == "atoms"
    assert plan_steps(RefineConfig(), False, None) == ["polish"]


def test_gmm_widths_follow_b_factors(fragment):
    st = fragment[0]
    topo = build_topology(st, warn=False)
    b = np.linspace(10.0, 90.0, topo.n_atoms)
    gmm = ModelGMM.from_topology(topo, topo.xyz(st), 4.0, b)
    assert gmm.sigma[0] == pytest.approx(0.9) and np.all(np.diff(gmm.sigma) > 0)
    assert gmm.sigma[-1] == pytest.approx(np.sqrt(0.81 + 80 / (8 * np.pi ** 2)))
    with pytest.raises(ValueError, match="b_factors"):
        ModelGMM.from_topology(topo, topo.xyz(st), 4.0, b[:-1])


def test_geometry_only_without_map(fragment):
    _, _, start = fragment
    result = refine(start, None, None, tiny_config(), validate=False)
    assert [s.name for s in result.steps] == ["polish"]
    assert rmsd(result.xyz, result.start_xyz) > 0.05


def test_resume_after_interruption_reruns_only_unfinished_steps(fragment, tmp_path, monkeypatch):
    _, m, start = fragment
    config = tiny_config()
    uninterrupted = refine(start, m, 4.0, config, validate=False)
    real, calls = steps.run_step, []

    def interrupted(name, *args, **kwargs):
        if name == "atoms":
            raise KeyboardInterrupt
        return real(name, *args, **kwargs)

    def counting(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(pipeline, "run_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        refine(start, m, 4.0, config, out_dir=tmp_path, validate=False)
    saved = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert saved == ["0_patches.npz", "1_residues.npz"]       # nothing half-written
    monkeypatch.setattr(pipeline, "run_step", counting)
    resumed = refine(start, m, 4.0, config, out_dir=tmp_path, resume=True, validate=False)
    assert calls == ["atoms", "polish"]
    assert np.allclose(resumed.xyz, uninterrupted.xyz, atol=1e-4)
    (tmp_path / "checkpoints" / "3_polish.npz").unlink()            # lost the last step
    again = refine(start, m, 4.0, config, out_dir=tmp_path, resume=True)
    assert calls == ["atoms", "polish", "polish"]
    assert np.isfinite(again.xyz).all() and np.allclose(again.xyz, resumed.xyz, atol=1e-4)
    assert again.after["bond_rmsz"] < 1.5 and again.after["clashscore"] < again.before["clashscore"]


def test_checkpoints_of_other_inputs_are_never_reused(fragment, tmp_path):
    _, m, start = fragment
    config = tiny_config(stages=("residues",), polish_steps=0)
    refine(start, m, 4.0, config, out_dir=tmp_path, validate=False)
    with pytest.raises(CryonbError, match="resume"):
        refine(start, m, 4.0, config, out_dir=tmp_path, validate=False)
    hotter = start.clone()                        # same coordinates, a mobile first residue
    for atom in hotter[0][0][0]:
        atom.b_iso += 20.0
    for other in [dict(model=jitter(start, 0.1, seed=5)), dict(model=hotter), dict(resolution=5.0),
                  dict(config=tiny_config(stages=("residues",), polish_steps=0, seed=1))]:
        args = dict(model=start, m=m, resolution=4.0, config=config) | other
        with pytest.raises(CryonbError, match="other inputs"):
            refine(**args, out_dir=tmp_path, resume=True, validate=False)


def test_map_not_covering_the_model_is_an_overlap_error(fragment, tmp_path):
    _, m, start = fragment
    path = write_map(dataclasses.replace(m, origin=m.origin + 500.0), tmp_path / "far.mrc")
    with pytest.raises(OverlapError, match="far.mrc"):
        refine(start, read_map(path), 4.0, tiny_config())


def test_resolution_beyond_nyquist_is_a_map_error(fragment, tmp_path):
    _, m, start = fragment
    path = write_map(m, tmp_path / "map.mrc")
    with pytest.raises(MapError, match="Nyquist") as err:
        refine(start, read_map(path), 1.0, tiny_config())
    assert "map.mrc" in str(err.value)


# ----------------------------------------------------------------------------- command line
def test_refine_command_reports_bad_input_in_one_line(fragment, tmp_path, capsys):
    _, _, start = fragment
    command = [sys.executable, "-m", "cryonb.cli", "refine", "--model", str(tmp_path / "none.cif"),
               "--out", str(tmp_path / "run")]
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().count("\n") == 0 and "none.cif: file does not exist" in done.stderr
    model = write_model(start, tmp_path / "start.pdb")
    assert cli.main(["refine", "--model", str(model), "--map", str(model), "--resolution", "4",
                     "--out", str(tmp_path / "run")]) == 2
    message = capsys.readouterr().err.strip()
    assert message.count("\n") == 0 and "start.pdb" in message and "MRC" in message
    assert not (tmp_path / "run").exists()


def test_refine_command_writes_a_run_folder_and_resumes(fragment, tmp_path, capsys, monkeypatch):
    _, m, start = fragment
    model = write_model(start, tmp_path / "in" / "start.pdb")
    mapfile = write_map(m, tmp_path / "in" / "map.mrc")
    stamp = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (model, mapfile)}
    run = tmp_path / "run"
    argv = ["refine", "--model", str(model), "--map", str(mapfile), "--resolution", "4", "--out", str(run),
            "--iterations", "4", "--patches", "8", "--orientations", "16", "--polish-steps", "20",
            "--threads", "1", "--rebuild-rotamers", "no"]
    real, calls = steps.run_step, []

    def interrupted(name, *args, **kwargs):
        calls.append(name)
        if name == "atoms" and calls.count("atoms") == 1:
            raise KeyboardInterrupt                  # Ctrl-C during the atoms stage
        return real(name, *args, **kwargs)

    monkeypatch.setattr(pipeline, "run_step", interrupted)
    assert cli.main(argv) == 130 and "--resume" in capsys.readouterr().err
    assert not (run / "refined.cif").exists()
    stopped = load_run(run)
    assert stopped.state == "failed" and stopped.status["error"] == "interrupted" and not stopped.metrics
    assert cli.main(["refine", "--resume", str(run)]) == 0          # other options from arguments.json
    assert calls == ["patches", "residues", "atoms", "atoms", "polish"]
    out = capsys.readouterr().out
    assert "bond_rmsz" in out and "fsc_average" in out
    record = load_run(run)
    assert record.ok and record.config["pipeline"] == "refine" and record.config["threads"] == 1
    assert record.config["parameters"]["model"] == str(model.resolve()) and record.config["device"] == "cpu"
    assert [s["name"] for s in record.steps["steps"]] == ["patches", "residues", "atoms", "polish"]
    assert record.metrics["bond_rmsz"] < record.metrics["bond_rmsz_input"]
    assert set(KEYS) | {f"{k}_input" for k in KEYS} <= set(record.metrics)     # the one headline list
    assert set(json.loads((run / "history.json").read_text())) == {"patches", "residues", "atoms", "polish"}
    assert sorted(p.name for p in (run / "stages").iterdir()) == [
        "0_patches.cif", "1_residues.cif", "2_atoms.cif", "3_polish.cif"]
    assert (run / "refined.cif").stat().st_size > 0 and (run / "refined.pdb").stat().st_size > 0
    assert stamp == {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (model, mapfile)}
    assert cli.main(argv) == 2 and "finished run" in capsys.readouterr().err          # no overwrite
    assert cli.main([*argv, "--out", str(tmp_path / "in")]) == 2                     # holds the inputs
    assert "holds the input" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"not a numpy file", b"PK\x03\x04 truncated zip"])
def test_a_damaged_checkpoint_is_named_not_a_traceback(tmp_path, content):
    from cryonb.refinement.checkpoints import Checkpoints
    ckpt = Checkpoints(tmp_path / "checkpoints", "abc")
    ckpt.path(0, "polish").write_bytes(content)
    with pytest.raises(CryonbError, match=r"0_polish.npz.*checkpoint is damaged"):
        ckpt.load(0, "polish")
    bad = tmp_path / "checkpoints" / "1_polish.npz"
    np.savez(bad, xyz=np.full((3, 2), np.nan), key="abc", meta=json.dumps(
        {"history": {}, "weight": 0.0, "seconds": 0.0, "notes": []}))
    with pytest.raises(CryonbError, match="no valid coordinates"):
        ckpt.load(1, "polish")
