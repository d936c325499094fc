"""Series refinement end to end: a cryoDRGN-style run folder through `cryonb series`, resume."""
from __future__ import annotations

import csv
import pickle

import gemmi
import numpy as np
import pytest

from cryonb import cli
from cryonb.data.series_cases import dims_frames_on_core
from cryonb.density import SimulationConfig, simulate_map
from cryonb.density.simulate import box_around_points
from cryonb.io import read_map, set_model_xyz, write_map, write_model
from cryonb.runs import load_run
from cryonb.validation.headline import KEYS
from cryonb.series.baseline import interpolate_models
from cryonb.validation.report import validate_model

FRAMES = [0, 48, 97]


@pytest.fixture(scope="module")
def cryodrgn_run(adk_closed, tmp_path_factory):
    """vol_000..002.mrc (DIMS frames at 8 Å, 2 Å voxels), z.pkl the way cryoDRGN writes it, a model."""
    root = tmp_path_factory.mktemp("cryodrgn")
    frames = dims_frames_on_core()[FRAMES]
    grid = box_around_points(frames, 2.0, padding=8.0)
    st = adk_closed.clone()
    (root / "vols").mkdir()
    for k, xyz in enumerate(frames):
        set_model_xyz(st, xyz)
        write_map(simulate_map(st, SimulationConfig(resolution=8.0, voxel_size=2.0), like=grid),
                  root / "vols" / f"vol_{k:03d}.mrc")
    z_mu = np.array([[0.0, 0.0], [0.5, 0.2], [1.0, 0.3]], dtype=np.float32)
    with open(root / "z.pkl", "wb") as fh:          # cryoDRGN: z_mu, then z_logvar, two pickles
        pickle.dump(z_mu, fh)
        pickle.dump(np.full_like(z_mu, -3.0), fh)
    np.savetxt(root / "eval.txt", [[0.0, 0.0], [0.25, 0.1], [0.5, 0.2], [0.75, 0.25], [1.0, 0.3]])
    write_model(adk_closed, root / "closed.pdb")
    return root, frames


def test_series_command_runs_a_cryodrgn_style_input_end_to_end_and_resumes(cryodrgn_run, tmp_path, capsys):
    root, frames = cryodrgn_run
    stamp = {p: p.read_bytes() for p in (root / "vols").iterdir()} | {root / "z.pkl": (root / "z.pkl").read_bytes()}
    run = tmp_path / "run"
    argv = ["series", "--maps", str(root / "vols"), "--latent", str(root / "z.pkl"), "--model",
            str(root / "closed.pdb"), "--resolution", "8", "--eval-latent", str(root / "eval.txt"),
            "--out", str(run), "--iterations", "4", "--fit-iterations", "4", "--smooth-iterations", "4",
            "--no-refine-start", "--threads", "1", "--device", "cpu", "--projection", "analytic"]
    assert cli.main(argv) == 0
    series = gemmi.read_structure(str(run / "series.cif"))
    assert len(series) == 5 and series[0].count_atom_sites() == adk_closed_atoms(root)
    rows = list(csv.DictReader(open(run / "frames.csv")))
    assert [r["map"] != "" for r in rows] == [True, False, True, False, True]
    assert all(np.isfinite(float(r["fsc_average"])) == (r["map"] != "") for r in rows)
    assert all(np.isfinite([float(r[k]) for k in ("bond_rmsz", "clashscore", "rama_favored_pct")]).all()
               for r in rows)
    # the frame at the closed latent sits in the closed map: it fits there better than the
    # start (closed) model fits the open map
    closed_in_open = validate_model(gemmi.read_structure(str(root / "closed.pdb")),
                                    read_map(root / "vols" / "vol_002.mrc"), 8.0).fsc.average(8.0)
    assert float(rows[0]["fsc_average"]) > closed_in_open + 0.05
    record = load_run(run)
    assert record.ok and record.config["pipeline"] == "series" and record.config["inputs"]["latent_source"] == "cryodrgn"
    assert record.metrics["frames"] == 5 and record.config["parameters"]["resolution"] == 8
    assert record.config["device"] == "cpu" and record.config["config"]["projection"] == "analytic"
    assert set(KEYS) | {f"{k}_median" for k in KEYS} <= set(record.metrics)    # the one headline list
    assert record.metrics["clashscore"] == max(float(r["clashscore"]) for r in rows)
    assert record.metrics["fsc_average"] == min(float(r["fsc_average"]) for r in rows if r["map"])
    assert [s["name"] for s in record.steps["steps"]] == ["patches_coarse", "patches", "residues", "atoms", "fit",
                                                          "smooth"]
    assert stamp == {p: p.read_bytes() for p in stamp}                           # inputs untouched
    first = np.array([c.atom.pos.tolist() for c in series[2].all()])
    (run / "series.cif").unlink()
    assert cli.main(["series", "--resume", str(run)]) == 0                      # all from checkpoints
    again = gemmi.read_structure(str(run / "series.cif"))
    assert np.allclose(np.array([c.atom.pos.tolist() for c in again[2].all()]), first, atol=1e-3)
    capsys.readouterr()


def test_series_command_refuses_mismatched_counts(cryodrgn_run, tmp_path, capsys):
    root, _ = cryodrgn_run
    np.save(tmp_path / "two.npy", np.array([0.0, 1.0]))
    argv = ["series", "--maps", str(root / "vols"), "--latent", str(tmp_path / "two.npy"), "--model",
            str(root / "closed.pdb"), "--resolution", "8", "--out", str(tmp_path / "r")]
    assert cli.main(argv) == 2
    assert "two.npy" in capsys.readouterr().err


def test_interpolation_baseline_passes_through_the_refined_models():
    models = np.random.default_rng(0).normal(size=(3, 7, 3))
    path = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 2.0]])
    out = interpolate_models(models, path, np.array([[0.0, 0.0], [0.5, 0.1], [1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]))
    assert np.allclose(out[[0, 2, 4]], models)
    assert np.allclose(out[1], (models[0] + models[1]) / 2)
    assert np.allclose(out[3], models[1] + (models[2] - models[1]) / 2)


def adk_closed_atoms(root) -> int:
    return gemmi.read_structure(str(root / "closed.pdb"))[0].count_atom_sites()


def test_dims_case_noise_free_when_snr_is_none():
    from cryonb.data.series_cases import adk_dims_series
    clean = adk_dims_series(n_maps=2, snr=None, voxel_size=3.0)
    noisy = adk_dims_series(n_maps=2, snr=1.0, voxel_size=3.0)
    assert list(clean.map_frames) == [0, 97] and clean.maps[0].shape == noisy.maps[0].shape
    for c, n in zip(clean.maps, noisy.maps):
        assert np.isfinite(c.data).all()
        resid = n.data - c.data                                     # the noise alone, SNR 1
        assert np.var(resid) == pytest.approx(np.var(c.data), rel=0.05)


def test_residue_stage_runs_longer_than_the_atoms_stage_unless_told():
    from cryonb.series import defaults
    from cryonb.series.config import SeriesConfig, series_stages
    from cryonb.series.plan import stage_plan
    ladder = series_stages(8.0, iterations=10)
    assert ladder["residues"].iterations == defaults.RESIDUE_FACTOR * 10 and ladder["atoms"].iterations == 10
    assert series_stages(8.0, iterations=10, residue_iterations=7)["residues"].iterations == 7
    plan = {name: (cfg.iterations, n) for _, name, cfg, n in stage_plan(SeriesConfig(iterations=5), 8.0)}
    assert plan["residues"][0] == defaults.RESIDUE_FACTOR * 5
    assert plan["patches_coarse"][1] == SeriesConfig().n_patches // 8 and plan["patches"][1] == SeriesConfig().n_patches


def test_the_residue_stage_turns_chis_unless_told(adk_closed):
    from cryonb.geometry.topology import build_topology
    from cryonb.series.config import SeriesConfig
    from cryonb.series.plan import chi_tree_for
    from cryonb.series.train import SERIES_GEOMETRY_TERMS
    topo = build_topology(adk_closed, warn=False)
    on, off = SeriesConfig(), SeriesConfig(residue_chi=False)
    assert chi_tree_for(topo, "residues", on) is not None and chi_tree_for(topo, "residues", off) is None
    assert chi_tree_for(topo, "atoms", off) is not None and chi_tree_for(topo, "patches", on) is None
    assert "rama" in SERIES_GEOMETRY_TERMS["residues"] and "rotamer" in SERIES_GEOMETRY_TERMS["atoms"]
