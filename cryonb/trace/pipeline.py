"""The trace run: predicted C-alphas linked into traces, turned N->C and threaded with the sequence.

:func:`trace_map` is what ``cryonb trace`` and notebook 03 call. It writes into a run folder (with
the run record of :mod:`cryonb.runs`, pipeline "trace"):

``predicted_ca.cif``
    The C-alphas traced (predicted here, or the ones given), B = 100 x probability.
``traces.cif``
    One C-alpha chain per trace, longest first; residues named and numbered by the threaded
    sequence (UNK, numbered by place, where a trace is too short to thread).
``traces.csv``
    One row per trace: :data:`COLUMNS`.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from ..cnn.predict import calphas_or_predicted, write_calphas
from ..io import write_model
from ..maps import Map
from ..runs import finish_run, recorded
from ..sequence import Sequence
from ..tables import write_table
from ..torch_utils import resolve_device
from .traces import TraceConfig, TraceResult, build_traces, chain_names, trace_structure

COLUMNS = ["chain", "atoms", "first_residue", "last_residue", "threaded", "direction_score", "score", "margin"]


def trace_map(m: Map, resolution: float, sequence: Sequence, out: str | os.PathLike,
              ca: np.ndarray | None = None, ca_values: np.ndarray | None = None,
              config: TraceConfig | None = None, weights: str | None = None, device: str = "auto") -> TraceResult:
    """Traces through the C-alphas of map ``m`` (resolution Å) threaded with ``sequence``; writes the
    run folder ``out`` (see the module doc). ``ca``: C-alphas (K, 3) Å to use instead of the
    network's (``ca_values``: their probabilities); ``weights`` and ``device``: the network's."""
    cfg = config or TraceConfig()
    inputs = {"map": m.path, "resolution": resolution, "sequence": sequence.name, "length": len(sequence),
              "ca": "given" if ca is not None else "predicted"}
    settings = {**asdict(cfg), "weights": weights, "device": device}
    with recorded(out, "trace", settings, inputs=inputs, device=str(resolve_device(device))) as folder:
        t0 = time.perf_counter()
        xyz, values = calphas_or_predicted(m, len(sequence), ca, ca_values, weights, device)
        write_calphas(xyz, values, folder / "predicted_ca.cif")
        t1 = time.perf_counter()
        result = build_traces(xyz, m, sequence.residues, resolution, cfg, values=values)
        write_model(trace_structure(result, xyz, sequence.residues, np.nan_to_num(values, nan=0.0)),
                    folder / "traces.cif")
        rows = trace_rows(result)
        write_trace_table(rows, folder / "traces.csv")
        steps = [{"name": "calphas", "seconds": t1 - t0, "atoms": len(xyz)},
                 {"name": "traces", "seconds": time.perf_counter() - t1, "links": len(result.links)}]
        finish_run(folder, trace_metrics(rows, len(xyz), len(sequence)), steps)
    return result


def trace_rows(result: TraceResult) -> list[dict]:
    """One row per trace (longest first): chain, atoms, first and last residue number (1-based; None
    when not threaded), threaded, direction score, threading score and margin."""
    rows = []
    for name, t in zip(chain_names(len(result.traces)), result.traces):
        threaded = t.offset >= 0
        residues = t.residues + 1
        rows.append({"chain": name, "atoms": len(t.atoms),
                     "first_residue": int(residues.min()) if threaded else None,
                     "last_residue": int(residues.max()) if threaded else None, "threaded": threaded,
                     "direction_score": t.direction_score, "score": t.score, "margin": t.margin})
    return rows


def trace_metrics(rows: list[dict], atoms: int, length: int) -> dict:
    """The run's figures: atoms, traces, longest, atoms in threaded traces and the sequence covered."""
    covered = set()
    for r in rows:
        if r["threaded"]:
            covered.update(range(r["first_residue"], r["last_residue"] + 1))
    return {"calphas": atoms, "traces": len(rows), "longest_trace": max((r["atoms"] for r in rows), default=0),
            "threaded_atoms": sum(r["atoms"] for r in rows if r["threaded"]),
            "sequence_covered": len(covered) / max(length, 1)}


def write_trace_table(rows: list[dict], path: Path) -> None:
    """``traces.csv``: :data:`COLUMNS`, floats to 4 decimals, empty for none."""
    write_table(rows, path, COLUMNS)
