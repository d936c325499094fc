"""The rerank run: predicted C-alphas, a template pool, the ranking table and the placed templates.

:func:`rerank_map` is what ``cryonb rerank`` and notebook 03 call. It writes into a run folder
(with the run record of :mod:`cryonb.runs`, pipeline "rerank"):

``predicted_ca.cif``
    The C-alphas the ranking used (predicted here, or the ones given), B = 100 x probability.
``ranking.csv``
    One row per template chain, best CRscore first: :data:`COLUMNS`.
``placed/NN_<template>_<chain>.cif``
    The ``top`` best templates' chains (every atom the file has) moved onto the map.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import gemmi
import numpy as np

from ..cnn.predict import calphas_or_predicted, write_calphas
from ..io import read_model, write_model
from ..maps import Map
from ..runs import finish_run, recorded
from ..sequence import Sequence
from ..tables import write_table
from ..torch_utils import resolve_device
from .align import SHUFFLES
from .pool import Pool, Template
from .rerank import Placed, Ranking, rerank

COLUMNS = ["rank", "template", "chain", "length", "identity", "coverage", "zscore", "rank_sequence",
           "crscore", "density", "rank_density", "n_aligned", "n_paired", "placed"]


@dataclass
class RerankConfig:
    """Settings of :func:`rerank_map`: shuffles for the alignment z-score, the alignment's seed,
    how many of the best templates are written placed, and the network's sliding windows (voxels)."""

    shuffles: int = SHUFFLES
    seed: int = 0
    top: int = 10
    weights: str | None = None
    device: str = "auto"
    window: int = 64
    overlap: int = 16


def rerank_map(m: Map, resolution: float, sequence: Sequence, pool: Pool, out: str | os.PathLike,
               ca: np.ndarray | None = None, ca_values: np.ndarray | None = None,
               config: RerankConfig | None = None, progress: bool = False) -> Ranking:
    """Rank the templates of ``pool`` (:func:`.pool.read_pool` of a folder) for ``sequence`` in map
    ``m`` (resolution Å) and write the run folder ``out`` (see the module doc). ``ca``: C-alphas (K, 3) Å
    to use instead of the network's (``ca_values`` their probabilities, 0-1)."""
    cfg = config or RerankConfig()
    inputs = {"map": m.path, "resolution": resolution, "sequence": sequence.name, "length": len(sequence),
              "templates": len(pool.templates), "ca": "given" if ca is not None else "predicted"}
    with recorded(out, "rerank", asdict(cfg), inputs=inputs, seed=cfg.seed,
                  device=str(resolve_device(cfg.device))) as folder:
        steps = []
        t0 = time.perf_counter()
        xyz, values = calphas_or_predicted(m, len(sequence), ca, ca_values, cfg.weights, cfg.device,
                                           cfg.window, cfg.overlap)
        write_calphas(xyz, values, folder / "predicted_ca.cif")
        steps.append({"name": "calphas", "seconds": time.perf_counter() - t0, "atoms": len(xyz)})
        t0 = time.perf_counter()
        ranking = rerank(xyz, sequence.residues, pool.templates, cfg.shuffles, cfg.seed, density=m,
                         resolution=resolution, progress=progress)
        steps.append({"name": "rerank", "seconds": time.perf_counter() - t0, "templates": len(pool.templates),
                      "skipped": [f"{p}: {r}" for p, r in pool.skipped]})
        write_placed(ranking, {(t.name, t.chain): t for t in pool.templates}, folder / "placed", cfg.top)
        write_ranking(ranking.table, folder / "ranking.csv")
        finish_run(folder, ranking_metrics(ranking, len(pool.skipped)), steps)
    return ranking


def ranking_metrics(ranking: Ranking, skipped: int) -> dict:
    """The run's figures: pool size, skipped files, the top template by CRscore and by density."""
    table = ranking.table
    top = table[0] if table else {}
    by_density = min((r for r in table if r.get("rank_density")), key=lambda r: r["rank_density"], default={})
    return {"templates": len(table), "skipped_files": skipped, "top_template": f"{top.get('template')}:{top.get('chain')}",
            "top_crscore": top.get("crscore"), "top_density": top.get("density"), "top_identity": top.get("identity"),
            "top_density_template": f"{by_density.get('template')}:{by_density.get('chain')}" if by_density else None}


def write_ranking(table: list[dict], path: Path, columns: list[str] = COLUMNS) -> None:
    """``ranking.csv``: ``columns`` (default :data:`COLUMNS`), floats to 4 decimals, empty for none."""
    write_table(table, path, columns)


def write_placed(ranking: Ranking, templates: dict[tuple[str, str], Template], folder: Path, top: int) -> None:
    """The ``top`` best placed templates as ``NN_<template>_<chain>.cif``; sets each row's "placed"."""
    folder.mkdir(parents=True, exist_ok=True)
    for row in ranking.table:
        key = (row["template"], row["chain"])
        row["placed"] = ""
        if row["rank"] > top or key not in ranking.placed:
            continue
        name = f"{row['rank']:02d}_{_safe(row['template'])}_{_safe(row['chain'])}.cif"
        write_model(placed_chain(templates[key], ranking.placed[key]), folder / name)
        row["placed"] = f"placed/{name}"


def placed_chain(template: Template, placed: Placed) -> gemmi.Structure:
    """The template's chain (all its atoms, model 1) under the placement's rotation and translation."""
    st = read_model(template.path)
    out = gemmi.Structure()
    out.name, out.cell, out.spacegroup_hm = st.name, gemmi.UnitCell(), "P 1"
    model = gemmi.Model("1")
    chain = next(c for c in st[0] if c.name == template.chain).clone()
    rot, shift = placed.placement.rotation, placed.placement.translation
    for res in chain:
        for atom in res:
            atom.pos = gemmi.Position(*(rot @ np.array(atom.pos.tolist()) + shift))
    model.add_chain(chain)
    out.add_model(model)
    out.setup_entities()
    return out


def _safe(name: str) -> str:
    """A file-name-safe version of a template or chain name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in str(name)) or "_"
