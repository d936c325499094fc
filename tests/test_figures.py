"""The figures of figures/: drawn from records only, byte-identical twice, every file with a
producer, and the committed PNGs match a fresh drawing (image comparison)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cryonb.figures import records
from cryonb.figures.book import FIGURES, make_figures
from cryonb.figures.render import FORMATS
from cryonb.validation.reference_data import top8000_dir

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "figures"
needs_top8000 = pytest.mark.skipif(top8000_dir() is None, reason="Top8000 tables not found (CRYONB_TOP8000)")


def _synthetic_records(folder: Path) -> Path:
    """Small records of every kind the producers read."""
    rng = np.random.default_rng(0)
    batch = [{"name": f"m{k}", "map": kind, "resolution": 3.0 + k, "ca_rmsd_reference": None,
              **{f"{key}_{when}": float(rng.uniform(0.2, 2.0)) for key in records.BEFORE_AFTER
                 for when in ("before", "after")}}
             for k, kind in enumerate(("experimental", "simulated", "bundled"))]
    rama = [{"case": "c", "model": which, "residue": f"A/ALA{i}", "class": "general",
             "phi": float(rng.uniform(-180, 180)), "psi": float(rng.uniform(-180, 180)),
             "category": ("favored", "allowed", "outlier")[i % 3]} for which in ("start", "refined") for i in range(30)]
    fsc = [{"case": case, "curve": curve, "frequency": f, "fsc": float(np.exp(-10 * f))}
           for case in ("c", "d") for curve in ("model-map, start", "model-map, refined")
           for f in np.linspace(0.01, 0.3, 20)]
    series = [{"method": method, "frame": k, "map": "m" if k % 10 == 0 else "", "ca_rmsd": float(rng.uniform(0, 2)),
               **{key: float(rng.uniform(0, 3)) for key in records.SERIES_KEYS}}
              for method in ("series", "interpolation baseline") for k in range(20)]
    for name, rows in (("refinement_batch.csv", batch), ("ramachandran.csv", rama), ("fsc.csv", fsc),
                       ("series_frames.csv", series)):
        records.write_records(rows, folder / name)
    return folder


@needs_top8000
def test_every_figure_is_drawn_from_records_the_same_bytes_twice(tmp_path):
    data = _synthetic_records(tmp_path / "data")
    first = make_figures(data, tmp_path / "a")
    second = make_figures(data, tmp_path / "b")
    assert len(first) == 3 * len(FIGURES)
    for a, b in zip(first, second):
        assert a.read_bytes() == b.read_bytes(), a.name
    plotted = list(csv.DictReader(open(tmp_path / "a" / "refinement_before_after.csv")))
    assert [r["name"] for r in plotted] == ["m0", "m1", "m2"] and "qscore_after" in plotted[0]


def test_a_missing_record_names_the_file_and_the_figure(tmp_path):
    from cryonb.errors import CryonbError
    with pytest.raises(CryonbError, match="refinement_batch.csv: record of figure refinement_before_after"):
        make_figures(tmp_path, tmp_path / "out", ["refinement_before_after"])


def test_every_committed_figure_file_has_a_producer_and_every_producer_a_file():
    files = {p.name for p in COMMITTED.iterdir() if p.is_file() and p.name != ".gitkeep"}
    expected = {f"{name}.{ext}" for name in FIGURES for ext in (*FORMATS, "csv")}
    assert files == expected
    for name, (_, needed) in FIGURES.items():
        assert all((COMMITTED / "data" / r).is_file() for r in needed), name


@needs_top8000
@pytest.mark.parametrize("name", sorted(FIGURES))
def test_committed_figures_match_a_fresh_drawing_of_their_records(tmp_path, name):
    from matplotlib.testing.compare import compare_images
    make_figures(COMMITTED / "data", tmp_path, [name])
    assert (tmp_path / f"{name}.csv").read_bytes() == (COMMITTED / f"{name}.csv").read_bytes()
    assert compare_images(str(COMMITTED / f"{name}.png"), str(tmp_path / f"{name}.png"), tol=2.0) is None


def test_refinement_records_come_from_a_batch_summary(tmp_path):
    batch = tmp_path / "batch"
    batch.mkdir()
    with open(batch / "summary.csv", "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "state", "map_path", "resolution", "metric:molprobity_score_input",
                    "metric:molprobity_score", "metric:qscore_input", "metric:qscore"])
        w.writerow(["real", "ok", "/x/shared/real_maps/emd.mrc", "3.2", "2.5", "1.1", "0.4", "0.5"])
        w.writerow(["sim", "ok", "/x/inputs/a.mrc", "4.0", "3.0", "1.0", "0.3", "0.45"])
        w.writerow(["bad", "failed", "/x/inputs/t.mrc", "5.0", "", "", "", ""])
        w.writerow(["adk", "ok", "", "", "2.0", "0.9", "", "0.6"])
    rows = records.refinement_rows(batch)
    assert [(r["name"], r["map"]) for r in rows] == [("real", "experimental"), ("sim", "simulated"), ("adk", "bundled")]
    assert rows[0]["molprobity_score_before"] == 2.5 and rows[0]["qscore_after"] == 0.5
    assert rows[2]["qscore_before"] is None and rows[2]["resolution"] == 5.0
    assert json.dumps(rows)          # plain numbers and text
