"""The small records behind the figures (``figures/data/``), gathered from run folders.

``make figures`` reads only these files; this module writes them from the run folders of
``cryonb batch`` and the benchmarks (``cryonb figures --collect-batch DIR``, see docs/figures.md),
so the figures can be regenerated anywhere in seconds and their numbers traced to runs.

* ``refinement_batch.csv``: per row of a notebook-05 batch, the map, resolution and the headline
  metrics before (``*_input``) and after refinement;
* ``ramachandran.csv``: phi, psi, class and category of every residue of the start and refined
  models of chosen rows;
* ``fsc.csv``: model-map FSC curves of the start and refined models of chosen rows, and the
  half-map FSC of a simulated case;
* ``series_frames.csv``: per frame of a ``benchmarks/series_adk.py`` run, the C-alpha RMSD to the
  true frame and the Ramachandran, rotamer and clash scores of the series and of the
  interpolation baseline.
"""
from __future__ import annotations

import csv
from pathlib import Path

from .render import _write, csv_bytes

BEFORE_AFTER = ("molprobity_score", "qscore", "fsc_average", "clashscore", "rama_favored_pct",
                "rotamer_outliers_pct", "bond_rmsz")


def map_kind(map_path: str) -> str:
    """"experimental" (a map of ../shared/real_maps), "bundled" (notebook 05's own) or "simulated"."""
    if not map_path:
        return "bundled"
    return "experimental" if "real_maps" in map_path else "simulated"


def refinement_rows(batch: Path) -> list[dict]:
    """One record per ok row of a notebook-05 batch (its summary.csv)."""
    with open(batch / "summary.csv", newline="") as fh:
        summary = list(csv.DictReader(fh))
    out = []
    for s in summary:
        if s["state"] != "ok":
            continue
        row = {"name": s["name"], "map": map_kind(s.get("map_path", "")),
               "resolution": float(s.get("resolution") or 5.0),
               "ca_rmsd_reference": _number(s.get("metric:ca_rmsd_reference"))}
        for key in BEFORE_AFTER:
            row[f"{key}_before"] = _number(s.get(f"metric:{key}_input"))
            row[f"{key}_after"] = _number(s.get(f"metric:{key}"))
        out.append(row)
    return out


def ramachandran_rows(batch: Path, names: list[str]) -> list[dict]:
    """Every residue's phi/psi of the start and refined models of rows ``names`` (their
    ``model`` parameter and ``refined.cif``)."""
    from ..io import read_model
    from ..validation.rama import ramachandran
    out = []
    for name in names:
        models = {"start": read_model(_parameter(batch, name, "model")),
                  "refined": read_model(batch / "rows" / name / "refined.cif")}
        for which, st in models.items():
            for r in ramachandran(st).residues:
                out.append({"case": name, "model": which, "residue": f"{r.chain}/{r.resname}{r.seqid}",
                            "class": r.rama_class, "phi": r.phi, "psi": r.psi, "category": r.category})
    return out


def fsc_rows(batch: Path, names: list[str]) -> list[dict]:
    """Model-map FSC curves of the start and refined models of rows ``names`` in their maps."""
    from ..density.fsc import model_map_fsc
    from ..io import read_map, read_model
    out = []
    for name in names:
        m = read_map(_parameter(batch, name, "map_path"))
        for which, path in (("start", _parameter(batch, name, "model")),
                            ("refined", batch / "rows" / name / "refined.cif")):
            curve = model_map_fsc(read_model(path), m)
            out += [{"case": name, "curve": f"model-map, {which}", "frequency": float(f), "fsc": float(c)}
                    for f, c in zip(curve.frequency, curve.fsc) if f > 0]
    return out


def half_map_rows(structure: str = "1dx5I", resolution: float = 3.5, snr: float = 1.0) -> list[dict]:
    """Half-map FSC of a corpus structure simulated at ``resolution`` with noise (two halves)."""
    from ..data.corpus import load_corpus_structure
    from ..density.fsc import fsc
    from ..density.noise import half_maps
    from ..density.simulate import SimulationConfig, simulate_map
    st = load_corpus_structure(structure)
    halves = half_maps(simulate_map(st, SimulationConfig(resolution=resolution, voxel_size=1.0)), snr, seed=0)
    curve = fsc(*halves)
    case = f"{structure}: half maps (cryonb simulator, {resolution:g} Å, SNR {snr:g})"
    return [{"case": case, "curve": "half maps", "frequency": float(f), "fsc": float(c)}
            for f, c in zip(curve.frequency, curve.fsc) if f > 0]


SERIES_KEYS = ("rama_outliers_pct", "rama_favored_pct", "rotamer_outliers_pct", "clashscore")


def series_rows(bench: Path) -> list[dict]:
    """Per frame and method ("series", "interpolation baseline") of a series benchmark folder."""
    import json
    report = json.loads((bench / "metrics.json").read_text())
    out = []
    for method, table, key in (("series", bench / "cryonb" / "frames.csv", "cryonb"),
                               ("interpolation baseline", bench / "baseline_frames.csv", "baseline")):
        if not table.exists():
            continue
        rmsd = report[key]["ca_rmsd_per_frame"]
        with open(table, newline="") as fh:
            for r in csv.DictReader(fh):
                k = int(r["frame"])
                out.append({"method": method, "frame": k, "map": Path(r["map"]).name if r["map"] else "",
                            "ca_rmsd": float(rmsd[k]),
                            **{m: _number(r[m]) for m in SERIES_KEYS}})
    return out


def write_records(rows: list[dict], path: Path) -> Path:
    return _write(Path(path), csv_bytes(rows))


def read_records(path: Path) -> list[dict]:
    """A records CSV back, numbers as floats."""
    with open(path, newline="") as fh:
        return [{k: _number(v) if _is_number(v) else v for k, v in r.items()} for r in csv.DictReader(fh)]


def _parameter(batch: Path, name: str, key: str) -> str:
    """A row's parameter as the batch gave it (its last attempt's record)."""
    from ..batch.row import attempt_log
    ends = [e for e in attempt_log(batch, name) if e["event"] == "finished"]
    return ends[-1]["parameters"][key]


def _number(text) -> float | None:
    return None if text in (None, "") else float(text)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False
