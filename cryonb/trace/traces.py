"""From predicted C-alphas to threaded traces: links by vote, fragments, traces, direction, register.

:func:`build_traces` runs the steps of :mod:`.connect` (links under 18 cutoffs kept by vote,
fragments, fragments joined end to end), then per trace :mod:`.direction` and :mod:`.thread`
when a map (and a sequence) are given. :func:`trace_structure` writes the traces as a C-alpha-only
model, one chain per trace, residues named and numbered by the threaded sequence.
"""
from __future__ import annotations

import string
from dataclasses import dataclass, field

import gemmi
import numpy as np

from ..io import calpha_model
from ..maps import Map
from ..sequence import THREE_LETTER
from .align import JUMP, SKIP, emissions, pieces, step_costs, viterbi
from .connect import CUTOFFS, join_fragments, paths, vote_links
from .direction import direction_score
from .false_atoms import low_ends
from .register import PathCosts, thread_path
from .sidechain import load_model, map_scale
from .thread import thread_trace


@dataclass
class TraceConfig:
    """Settings (Å) of :func:`build_traces`: the vote's cutoffs and threshold and link rule
    (:func:`.connect.vote_links`), the join radius and gap distance (:func:`.connect.join_fragments`),
    the shortest trace that is threaded (atoms), ``drop_rank``: fragment ends ranked by probability
    beyond this fraction are left out and the rest relinked (:func:`.false_atoms.low_ends`; 1 or no
    values: none), and how: ``threading="classifier"`` (default) a
    path with gaps scored by the side-chain classifier (:mod:`.register`, its ``costs``);
    ``"profile"`` the Viterbi split (:mod:`.align`) then gapless threading by side-chain profiles
    (:mod:`.thread`), also used when no classifier is fitted."""

    cutoffs: tuple[float, ...] = CUTOFFS
    min_fraction: float = 0.4
    rule: str = "greedy"
    join_radius: float = 7.5
    gap_distance: float = 5.0
    min_thread: int = 5
    drop_rank: float = 0.9
    drop_resolution: float = 4.5
    split: bool = True             # cut traces where the Viterbi threading jumps (:mod:`.align`)
    skip: float = SKIP
    jump: float = JUMP
    threading: str = "classifier"
    costs: PathCosts = field(default_factory=PathCosts)


@dataclass
class Trace:
    """One trace. atoms (n,) indices into the C-alphas, in N->C order as decided; positions (n,)
    places along the trace (a join over a missing residue skips one); direction +1 when that order
    is the joined order, -1 when reversed; direction_score (:func:`.direction.direction_score`,
    of the chosen order; NaN without a map); offset: sequence index (0-based) of place 0 (-1 when
    not threaded); score and margin of the register (:func:`.thread.thread`; NaN when not threaded).
    """

    atoms: np.ndarray
    positions: np.ndarray
    direction: int = 1
    direction_score: float = float("nan")
    offset: int = -1
    score: float = float("nan")
    margin: float = float("nan")

    @property
    def residues(self) -> np.ndarray:
        """(n,) sequence index (0-based) of each atom; -1 everywhere when not threaded."""
        return self.offset + self.positions if self.offset >= 0 else np.full(len(self.atoms), -1)


@dataclass
class TraceResult:
    """Traces (longest first), the voted links (E, 2) and the fragments before joining."""

    traces: list[Trace]
    links: np.ndarray
    fragments: list[np.ndarray] = field(default_factory=list)

    def trace_links(self) -> np.ndarray:
        """(E', 2) consecutive atom pairs of every trace (joins included)."""
        pairs = [np.stack([t.atoms[:-1], t.atoms[1:]], 1) for t in self.traces if len(t.atoms) > 1]
        return np.concatenate(pairs) if pairs else np.zeros((0, 2), int)


def build_traces(xyz: np.ndarray, m: Map | None = None, sequence: str | None = None,
                 resolution: float | None = None, config: TraceConfig | None = None,
                 values: np.ndarray | None = None) -> TraceResult:
    """Traces through C-alphas ``xyz`` (N, 3) Å; with map ``m`` each trace is turned N->C by its
    density, and with a ``sequence`` (one-letter) and the map's ``resolution`` (Å) threaded.
    ``values`` (N,): the atoms' probabilities; with them the low-ranked fragment ends are left out
    of the links (``config.drop_rank``) and each becomes a trace of its own, not threaded."""
    cfg = config or TraceConfig()
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    links, _ = vote_links(xyz, cfg.cutoffs, cfg.min_fraction, cfg.rule)
    sharp = resolution is None or resolution <= cfg.drop_resolution
    dropped = np.flatnonzero(low_ends(len(xyz), links, values if sharp else None, cfg.drop_rank))
    if len(dropped):
        keep = np.setdiff1d(np.arange(len(xyz)), dropped)
        links, _ = vote_links(xyz[keep], cfg.cutoffs, cfg.min_fraction, cfg.rule)
        links = keep[links].reshape(-1, 2)
    fragments = paths(len(xyz), links)
    fragments = [f for f in fragments if not (len(f) == 1 and f[0] in dropped)]
    joined = join_fragments(xyz, fragments, cfg.join_radius, cfg.gap_distance)
    joined += [(np.array([a]), np.zeros(1, int)) for a in dropped]
    model = load_model(resolution) if (cfg.threading == "classifier" and m is not None and sequence
                                       and resolution) else None
    traces = []
    if model is not None:
        scale, taken = map_scale(m, xyz), np.zeros(len(sequence), bool)
        voted = {(int(i), int(j)) for i, j in links} | {(int(j), int(i)) for i, j in links}
        for atoms, positions in joined:                         # longest first: they claim residues
            if len(atoms) < max(cfg.min_thread, 3):
                traces.append(_place(Trace(atoms, positions), xyz, m, None, None, cfg))
                continue
            joins = np.array([(int(i), int(j)) not in voted for i, j in zip(atoms[:-1], atoms[1:])])
            for idx, direction, index, score in thread_path(m, xyz[atoms], sequence, model, scale,
                                                            cfg.costs, taken, joins):
                traces.append(_piece(atoms[idx], index, direction, score, xyz, m))
                taken[index] = True
        traces.sort(key=lambda t: len(t.atoms), reverse=True)
        return TraceResult(traces, links, fragments)
    for atoms, positions in joined:
        for piece_atoms, piece_positions in _split(atoms, positions, xyz, m, sequence, resolution, cfg):
            traces.append(_place(Trace(piece_atoms, piece_positions), xyz, m, sequence, resolution, cfg))
    traces.sort(key=lambda t: len(t.atoms), reverse=True)
    return TraceResult(traces, links, fragments)


def _split(atoms, positions, xyz, m, sequence, resolution, cfg):
    """Pieces (atoms, positions) of a joined trace cut where the Viterbi threading
    (:mod:`.align`) jumps; the whole trace when it is not threaded or split is off."""
    if not (cfg.split and m is not None and sequence and resolution and len(atoms) >= cfg.min_thread):
        return [(atoms, positions)]
    lengths = np.linalg.norm(np.diff(xyz[atoms], axis=0), axis=1)
    path = viterbi(emissions(m, xyz[atoms], sequence, resolution), step_costs(lengths, cfg.skip), cfg.jump)
    out = []
    for idx in pieces(path):
        index = path[idx, 1]
        out.append((atoms[idx], np.abs(index - index[0])))
    return out


def _piece(atoms: np.ndarray, index: np.ndarray, direction: int, score: float, xyz: np.ndarray, m: Map) -> Trace:
    """A threaded piece: ``atoms`` (k,) and their sequence ``index`` (k,) in the trace's order,
    turned N->C when ``direction`` is -1."""
    if direction < 0:
        atoms, index = atoms[::-1].copy(), index[::-1].copy()
    offset = int(index[0])
    trace = Trace(atoms, index - offset, direction, offset=offset, score=score)
    trace.direction_score = direction_score(m, xyz[atoms])
    return trace


def _place(trace: Trace, xyz: np.ndarray, m: Map | None, sequence: str | None,
           resolution: float | None, cfg: TraceConfig) -> Trace:
    """Direction and register of one trace (in place; returned)."""
    if m is None:
        return trace
    ca = xyz[trace.atoms]
    direction = 1 if direction_score(m, ca) >= 0 else -1
    if sequence and resolution and len(trace.atoms) >= cfg.min_thread:
        reg = thread_trace(m, ca, trace.positions, sequence, resolution)
        if np.isfinite(reg.score):
            direction = reg.direction
            trace.offset, trace.score, trace.margin = reg.offset, reg.score, reg.margin
    if direction < 0:
        trace.atoms = trace.atoms[::-1].copy()
        trace.positions = trace.positions.max() - trace.positions[::-1]
    trace.direction = direction
    trace.direction_score = direction_score(m, xyz[trace.atoms])
    return trace


def chain_names(n: int) -> list[str]:
    """``n`` chain names: A-Z, a-z, 0-9, then two letters (AA, AB, ...)."""
    one = string.ascii_uppercase + string.ascii_lowercase + string.digits
    two = [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase]
    return (list(one) + two)[:n]


def trace_structure(result: TraceResult, xyz: np.ndarray, sequence: str | None = None,
                    values: np.ndarray | None = None) -> gemmi.Structure:
    """The traces as a C-alpha-only model: chain per trace (longest first), residues named by the
    threaded ``sequence`` and numbered from 1 by their sequence index (UNK, numbered by place,
    when a trace is not threaded); B-factor = 100 x ``values`` (N,) when given. An atom the
    threading put on the same residue as the one before it (an atom it reads as false) is an
    UNK with an insertion code (27A, 27B, ...), so every residue of a chain is unique."""
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    chains = []
    for name, t in zip(chain_names(len(result.traces)), result.traces):
        threaded = sequence is not None and t.offset >= 0
        numbers = t.residues + 1 if threaded else t.positions + 1
        names = [_three(sequence[k]) for k in t.residues] if threaded else ["UNK"] * len(numbers)
        labels = _insertions(numbers)
        names = ["UNK" if label[1] != " " else n for n, label in zip(names, labels)]
        chains.append((name, xyz[t.atoms], names, labels, None if values is None else values[t.atoms]))
    return calpha_model(chains, name="traces")


def _insertions(numbers: np.ndarray) -> list[tuple[int, str]]:
    """(number, insertion code) per atom: " " for the first atom on a number, then A, B, ..."""
    seen: dict[int, int] = {}
    out = []
    for k in (int(v) for v in numbers):
        n = seen.get(k, 0)
        seen[k] = n + 1
        out.append((k, " " if n == 0 else string.ascii_uppercase[(n - 1) % 26]))
    return out


def _three(letter: str) -> str:
    """Three-letter residue name of a one-letter code (UNK when unknown)."""
    return THREE_LETTER.get(letter.upper(), "UNK")
