"""The assembly run: placed templates and traces to clustered, scored C-alpha models in the map.

:func:`assemble_map` is what ``cryonb assemble`` and notebook 04 call. It reads a rerank run
folder (``cryonb rerank --out``: ``ranking.csv``, ``placed/``, ``predicted_ca.cif``) and, when
given, a trace run's ``traces.cif``, then writes into a run folder (the run record of
:mod:`cryonb.runs`, pipeline "assemble"):

``remc.npz``
    The replica-exchange checkpoint (a rerun resumes from it) with decoys and energy traces.
``model_N_ca.cif``
    C-alpha models 1-5, one per SPICKER cluster, largest first, each the cluster's combo after a
    short low-temperature polish (the seed's second round); B = 100 x local confidence.
``model_N.cif``
    The same with every atom (:mod:`.full_atom`: PULCHRA, then geometry-only refinement), B = 100 x
    local confidence of the residue (when ``full_atom`` is on).
``models.csv``
    :data:`COLUMNS`: cluster size, mean RMSD to the combo, CRscore against the predicted C-alphas,
    confidence, eTM-score, mean local PCC, energy, and of the full-atom model CC_mask, MolProbity
    score, clashscore, Ramachandran outliers (%) and the residues left without a side chain.
``local.csv``
    Per model and residue: local PCC and local confidence.
"""
from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..cnn.score import ca_score
from ..errors import InputFileError
from ..io import calpha, calpha_model, read_model, write_model
from ..maps import Map
from ..runs import finish_run, recorded
from ..sequence import THREE_LETTER, Sequence
from ..tables import write_table
from .anchors import Anchor, complete, template_anchors, template_restraints, trace_anchor
from .energy import Energy, Weights, cnn_lookup, em_lookup
from .full_atom import full_atom_model
from .quality import confidence, etm_scores, local_confidence, local_pcc, model_tm_matrix
from .remc import RemcConfig, run_remc, summary
from .spicker import spicker

COLUMNS = ["model", "cluster_size", "mean_rmsd", "crscore", "confidence", "etm", "local_pcc", "energy",
           "cc_mask", "molprobity_score", "clashscore", "rama_outliers_pct", "no_side_chain"]


@dataclass
class AssemblyConfig:
    """Settings of :func:`assemble_map`: replicas (the seed: 40), templates used (the seed: up to
    30 "good" ones, CRscore above 0.5; when none is good the ``fallback`` best are used), the
    energy weights, the REMC settings, the polish steps, the burn-in fraction of the decoys left out
    of clustering, and the seed."""

    replicas: int = 40
    templates: int = 30
    min_crscore: float = 0.5
    fallback: int = 5
    weights: Weights = field(default_factory=Weights)
    remc: RemcConfig = field(default_factory=RemcConfig)
    polish_steps: int = 1000
    full_atom: bool = True
    geometry_steps: int = 200
    burn_in: float = 0.5
    seed: int = 0


@dataclass
class AssemblyInputs:
    """What a run starts from: the anchors (templates, then traces) and the predicted C-alphas (K, 3) Å."""

    anchors: list[Anchor]
    predicted: np.ndarray


def read_inputs(rerank_dir: str | os.PathLike, query: str, traces: str | os.PathLike | None = None,
                config: AssemblyConfig | None = None) -> AssemblyInputs:
    """The good templates of a rerank run folder (the ``fallback`` best when none is good), the
    threaded traces of ``traces`` and the rerank's predicted C-alphas; InputFileError naming the
    folder or file for anything missing or unusable."""
    cfg = config or AssemblyConfig()
    anchors = template_anchors(rerank_dir, query, cfg.templates, cfg.min_crscore)
    if not anchors:
        anchors = template_anchors(rerank_dir, query, cfg.fallback)
    if traces is not None and (t := trace_anchor(traces, len(query))) is not None:
        anchors.append(t)
    if not anchors:
        raise InputFileError(rerank_dir, "no placed template and no threaded trace: nothing to assemble from")
    predicted = calpha(read_model(Path(rerank_dir) / "predicted_ca.cif"))[1]
    return AssemblyInputs(anchors, predicted)


def assemble_map(m: Map, resolution: float, sequence: Sequence, rerank_dir: str | os.PathLike,
                 out: str | os.PathLike, traces: str | os.PathLike | None = None,
                 config: AssemblyConfig | None = None, progress: bool = False,
                 inputs_read: AssemblyInputs | None = None) -> list[dict]:
    """Assemble ``sequence`` in map ``m`` (resolution Å) from the rerank run ``rerank_dir`` (and
    ``traces``, a ``traces.cif``); write the run folder ``out``. Returns the rows of models.csv.
    ``inputs_read``: :func:`read_inputs` already called on the same arguments."""
    cfg = config or AssemblyConfig()
    query = sequence.residues
    got = inputs_read or read_inputs(rerank_dir, query, traces, cfg)
    anchors, predicted = got.anchors, got.predicted
    inputs = {"map": m.path, "resolution": resolution, "sequence": sequence.name, "length": len(query),
              "rerank": os.fspath(rerank_dir), "traces": None if traces is None else os.fspath(traces),
              "anchors": [{"name": a.name, "kind": a.kind, "score": a.score, "residues": int(a.present.sum())}
                          for a in anchors]}
    with recorded(out, "assemble", asdict(cfg), inputs=inputs, seed=cfg.seed) as folder:
        steps = []
        t0 = time.perf_counter()
        energy = build_energy(m, resolution, query, anchors, predicted, cfg.weights)
        starts = start_chains(anchors, cfg.replicas, np.random.default_rng(cfg.seed))
        state = run_remc(energy, starts, cfg.remc, checkpoint=folder / "remc.npz", progress=progress)
        steps.append({"name": "remc", "seconds": time.perf_counter() - t0, **summary(state, cfg.remc)})
        t1 = time.perf_counter()
        decoys = np.array(state.decoys[int(len(state.decoys) * cfg.burn_in):])
        clusters = spicker(decoys)
        models = polish(energy, [c.combo for c in clusters.clusters], [decoys[c.closc] for c in clusters.clusters], cfg)
        steps.append({"name": "cluster", "seconds": time.perf_counter() - t1, "decoys": len(decoys),
                      "cutoff": clusters.cutoff, "clusters": [c.size for c in clusters.clusters]})
        rows, lc = score_models(m, resolution, np.array(models), clusters, predicted, energy)
        for k, x in enumerate(models, start=1):
            write_model(model_structure(x, query, lc[k - 1]), folder / f"model_{k}_ca.cif")
        t2 = time.perf_counter()
        if cfg.full_atom:
            for k, (x, row) in enumerate(zip(models, rows), start=1):
                st = full_atom_model(x, query, cfg.geometry_steps).structure
                set_b_factors(st, lc[k - 1])
                write_model(st, folder / f"model_{k}.cif")
                row.update(full_atom_scores(st, m, resolution))
                row["no_side_chain"] = len(bare_residues(st))
            steps.append({"name": "full_atom", "seconds": time.perf_counter() - t2,
                          "geometry_steps": cfg.geometry_steps})
        write_table(rows, folder / "models.csv", COLUMNS)
        write_table([{"model": k + 1, "residue": i + 1, "local_pcc": row_p, "local_confidence": row_c}
                     for k in range(len(models)) for i, (row_p, row_c) in enumerate(zip(rows[k]["_lpcc"], lc[k]))],
                    folder / "local.csv", ["model", "residue", "local_pcc", "local_confidence"])
        metrics = {"models": len(models), "etm_1": rows[0]["etm"], "crscore_1": rows[0]["crscore"],
                   "cluster_1": rows[0]["cluster_size"], "decoys": len(decoys),
                   **{f"{k}_1": rows[0].get(k) for k in ("cc_mask", "molprobity_score", "clashscore")}}
        finish_run(folder, metrics, steps)
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


def build_energy(m: Map, resolution: float, query: str, anchors: list[Anchor], predicted: np.ndarray,
                 weights: Weights) -> Energy:
    """The energy of :mod:`.energy` for this map, sequence and these anchors' template wells."""
    dist, weight = template_restraints(anchors, len(query))
    cnn = cnn_lookup(m, predicted, resolution) if weights.cnn else None
    return Energy(query, weights, em=em_lookup(m, resolution, predicted), cnn=cnn,
                  restraint_distance=dist, restraint_weight=weight)


def start_chains(anchors: list[Anchor], replicas: int, rng: np.random.Generator) -> np.ndarray:
    """(replicas, L, 3) Å: the anchors completed to whole chains, templates first (best CRscore at
    the lowest temperature), then traces, reused in turn when there are more replicas than anchors."""
    ranked = sorted(anchors, key=lambda a: (a.kind != "template", -a.score))
    return np.stack([complete(ranked[k % len(ranked)].xyz, rng) for k in range(replicas)])


def polish(energy: Energy, combos: list[np.ndarray], closcs: list[np.ndarray], cfg: AssemblyConfig) -> list[np.ndarray]:
    """Each cluster's model: its combo and closc relaxed together (one vectorised run, no exchange,
    temperatures from t_min to 1.5 t_min) for ``polish_steps`` steps; the one of lower energy."""
    if cfg.polish_steps <= 0:
        return list(combos)
    starts = np.stack([x for pair in zip(combos, closcs) for x in pair])
    remc = RemcConfig(steps=cfg.polish_steps, t_min=cfg.remc.t_min, t_max=cfg.remc.t_min * 1.5,
                      swap_every=10 ** 9, sample_every=max(cfg.polish_steps, 1), checkpoint_every=10 ** 9,
                      seed=cfg.seed, max_segment=6)
    state = run_remc(energy, starts, remc)
    pairs = state.energy.reshape(-1, 2)
    return [state.x[2 * k + int(np.argmin(pairs[k]))] for k in range(len(combos))]


def score_models(m: Map, resolution: float, models: np.ndarray, clusters, predicted: np.ndarray,
                 energy: Energy) -> tuple[list[dict], np.ndarray]:
    """models.csv rows (with their local PCC under "_lpcc") and local confidence (M, L)."""
    length = models.shape[1]
    cr = np.array([ca_score(x, predicted, length=length).crscore for x in models])
    sizes = np.array([c.size for c in clusters.clusters])
    spread = np.array([c.mean_rmsd for c in clusters.clusters])
    conf = confidence(cr, sizes, spread, clusters.n_decoys)
    tm, dist = model_tm_matrix(models)
    etm = etm_scores(tm, conf)
    lpcc = np.stack([local_pcc(m, x, resolution) for x in models])
    lc = local_confidence(lpcc, etm, dist)
    totals = energy.total(models)
    rows = [{"model": k + 1, "cluster_size": int(sizes[k]), "mean_rmsd": float(spread[k]), "crscore": float(cr[k]),
             "confidence": float(conf[k]), "etm": float(etm[k]), "local_pcc": float(np.nanmean(lpcc[k])),
             "energy": float(totals[k]), "_lpcc": lpcc[k]} for k in range(len(models))]
    return rows, lc


def set_b_factors(st, values: np.ndarray) -> None:
    """B-factor of every atom of residue i (model 1, chain order) = 100 x ``values[i]`` (0-999.99)."""
    residues = [r for ch in st[0] for r in ch]
    for res, v in zip(residues, values):
        for atom in res:
            atom.b_iso = float(np.clip(100.0 * np.nan_to_num(v), 0.0, 999.99))


def bare_residues(st) -> list[str]:
    """Residues (other than glycine) of model 1 without a C-beta: PULCHRA builds no side chain for
    some residues of a poor C-alpha chain (docs/assembly.md), and a user must know."""
    return [f"{ch.name}/{res.name}{res.seqid.num}" for ch in st[0] for res in ch
            if res.name != "GLY" and res.find_atom("CB", "*") is None]


def full_atom_scores(st, m: Map, resolution: float) -> dict:
    """CC_mask in ``m`` and the MolProbity score, clashscore and Ramachandran outliers (%) of a
    full-atom model."""
    from ..validation.map_fit import cc_mask
    from ..validation.report import validate_model
    s = validate_model(st).summary
    return {"cc_mask": cc_mask(st, m, resolution), "molprobity_score": s.get("molprobity_score"),
            "clashscore": s.get("clashscore"), "rama_outliers_pct": s.get("rama_outliers_pct")}


def model_structure(xyz: np.ndarray, query: str, local_conf: np.ndarray):
    """A C-alpha model of the query: residues named by the sequence, numbered 1..L, B = 100 x LC."""
    names = [THREE_LETTER.get(c, "UNK") for c in query]
    return calpha_model([("A", xyz, names, None, np.clip(local_conf, 0.0, 9.99))], name="assembly")
