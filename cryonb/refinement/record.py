"""The record of a single refinement: the input and output validated and compared, and the run
record (:mod:`cryonb.runs`) that ``refine(..., out_dir=DIR)`` writes for the CLI and notebook 05 alike."""
from __future__ import annotations

from .. import runs
from ..maps import Map
from ..superpose import rmsd
from ..validation.compare import worse_than_input
from ..validation.report import validate_model


def refine_inputs(model, m, resolution: float | None, n_atoms: int) -> dict:
    """``inputs`` of config.json: the model's name and size, the map's file, box and voxel."""
    out = {"model": model.name or None, "atoms": n_atoms, "resolution": resolution, "map": None}
    if m is not None:
        out["map"] = {"path": str(m.path) if getattr(m, "path", None) else None,
                      "shape": list(m.data.shape), "voxel_size": [float(v) for v in m.voxel_size],
                      "origin": [float(v) for v in m.origin]}
    return out


def refine_metrics(result) -> dict:
    """Flat metrics of a :class:`~cryonb.refinement.RefineResult`: the headline of the refined
    model and of the input (``<key>_input``), seconds, C-alpha shift and what got worse (``harm``)."""
    ca = result.topology.atoms.names == "CA"
    shift = rmsd(result.xyz[ca], result.start_xyz[ca]) if ca.any() else None
    return {"seconds": result.seconds, **runs.headline(result.after, result.before),
            "ca_shift": shift, "n_harm": len(result.harm), "harm": "; ".join(result.harm) or None}


def step_records(steps) -> list[dict]:
    """steps.json entries: name, seconds, optimiser iterations, geometry weight, notes and the last
    value of each loss."""
    return [{"name": s.name, "seconds": s.seconds, "iterations": s.iterations,
             "geometry_weight": s.geometry_weight, "notes": s.notes,
             "final": {key: values[-1] for key, values in s.history.items() if values}} for s in steps]


def validation_summary(st, m: Map | None, resolution: float | None) -> dict:
    """The ``cryonb validate`` summary (with a map: the model-map FSC averaged to the resolution too)."""
    return dict(validate_model(st, m, resolution).summary)


def validate_result(model, out, m: Map | None, resolution: float | None) -> tuple[dict, dict, list[str]]:
    """Validation summaries of the input ``model`` and the refined ``out``, and what got worse."""
    before, after = validation_summary(model, m, resolution), validation_summary(out, m, resolution)
    return before, after, worse_than_input(before, after)
