"""Sequence and map to a refined model: predict-ca, rerank, trace, assemble and refine, resumable.

:func:`build_model` is what ``cryonb build`` calls. Each step writes its own run folder under
the build folder, with its run record; a step whose record says "ok" is skipped when the build
runs again, and the assembly resumes from its REMC checkpoint, so an interrupted build goes on
where it stopped:

``rerank/``     the network's C-alphas and the template ranking (:func:`cryonb.templates.pipeline.rerank_map`)
``trace/``      C-alpha traces threaded with the sequence (:func:`cryonb.trace.pipeline.trace_map`)
``assembly/``   REMC, SPICKER, eTM, full-atom models (:func:`cryonb.assembly.pipeline.assemble_map`)
``refine/``     model 1 refined into the map (:func:`cryonb.refinement.pipeline.refine`)
``model_1.cif`` the refined model 1, and the build's own run record (pipeline "build").
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..io import calpha, read_model, write_model
from ..maps import Map
from ..runs import finish_run, load_run, recorded
from ..sequence import Sequence
from ..torch_utils import resolve_device
from ..templates.pool import Pool
from .pipeline import AssemblyConfig, assemble_map

STEPS = ("rerank", "trace", "assembly", "refine")


@dataclass
class BuildConfig:
    """Settings of :func:`build_model`: the assembly's, the rerank's shuffles, whether model 1 is
    refined into the map and how (``in_place``: the refinement's coarse patches and the polish only;
    the assembly already put the chain in the density, and the fine patches and residue decoders
    moved AdK's model 1 away from the truth at 4 Å: TM 0.931 -> 0.904, against 0.955 in place),
    and torch threads."""

    assembly: AssemblyConfig = field(default_factory=AssemblyConfig)
    shuffles: int = 100
    refine: bool = True
    in_place: bool | str = True
    threads: int | None = None


def finished(folder: Path) -> bool:
    """Whether ``folder`` holds a run whose record says "ok"."""
    try:
        return load_run(folder).ok
    except Exception:      # noqa: BLE001 - no folder, no record or a damaged one: not finished
        return False


def build_model(m: Map, resolution: float, sequence: Sequence, pool: Pool, out: str | os.PathLike,
                config: BuildConfig | None = None, progress: bool = False) -> dict:
    """Run (or resume) every step for ``sequence`` in map ``m`` (resolution Å) with the templates of
    ``pool``; returns the build's metrics."""
    from ..refinement.config import RefineConfig
    from ..refinement.pipeline import refine
    from ..templates.pipeline import RerankConfig, rerank_map
    from ..trace.pipeline import trace_map
    cfg = config or BuildConfig()
    out = Path(out)
    inputs = {"map": m.path, "resolution": resolution, "sequence": sequence.name, "length": len(sequence),
              "templates": len(pool.templates)}
    with recorded(out, "build", asdict(cfg), inputs=inputs, seed=cfg.assembly.seed, threads=cfg.threads,
                  device=str(resolve_device("auto"))) as folder:
        steps = []

        def step(name, run):
            t0 = time.perf_counter()
            done = finished(folder / name)
            if not done:
                run()
            steps.append({"name": name, "seconds": time.perf_counter() - t0, "resumed": done})

        step("rerank", lambda: rerank_map(m, resolution, sequence, pool, folder / "rerank",
                                          config=RerankConfig(shuffles=cfg.shuffles, seed=cfg.assembly.seed),
                                          progress=progress))
        predicted = calpha(read_model(folder / "rerank" / "predicted_ca.cif"))[1]
        step("trace", lambda: trace_map(m, resolution, sequence, folder / "trace", predicted))
        step("assembly", lambda: assemble_map(m, resolution, sequence, folder / "rerank", folder / "assembly",
                                              folder / "trace" / "traces.cif", cfg.assembly, progress=progress))
        final = read_model(folder / "assembly" / "model_1.cif")
        if cfg.refine:
            def run_refine():
                result = refine(final, m, resolution, RefineConfig(threads=cfg.threads, seed=cfg.assembly.seed,
                                                                   in_place=cfg.in_place),
                                out_dir=folder / "refine", progress=progress)
                write_model(result.structure, folder / "refine" / "refined.cif")
            step("refine", run_refine)
            final = read_model(folder / "refine" / "refined.cif")
        write_model(final, folder / "model_1.cif")
        metrics = {**{f"assembly_{k}": v for k, v in load_run(folder / "assembly").metrics.items()
                      if k in ("etm_1", "crscore_1", "cluster_1", "models")}}
        if cfg.refine:
            refined = load_run(folder / "refine").metrics
            metrics.update({k: refined.get(k) for k in ("molprobity_score", "clashscore", "cc_mask", "rama_outliers_pct")})
        finish_run(folder, metrics, steps)
    return metrics
