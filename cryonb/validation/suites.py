"""RNA backbone suites: MolProbity's suitename conformer names and suiteness.

A *suite* runs from one ribose to the next: the seven torsions delta(i-1), epsilon(i-1),
zeta(i-1), alpha(i), beta(i), gamma(i), delta(i), labelled with residue i. Suitename
(Richardson et al. 2008, RNA 14:465-481) first sorts a suite into one of 12 bins by the
sugar puckers of delta(i-1) and delta (C3'-endo '3', C2'-endo '2') and the gamma rotamer
(p, t, m), triaging it as an outlier when any torsion lies outside its allowed range. Inside
the bin it picks the nearest consensus conformer (``'1a'`` is A-form) by a scaled power-3
"hyperellipsoid" distance over epsilon-1, zeta-1, alpha and beta, with special rules between a
dominant cluster and its satellites, then rescores the choice over all seven torsions:

    d = (sum_k (|x_k - c_k| / w_k) ** 3) ** (1/3),  suiteness = (1 + cos(pi d)) / 2 if d <= 1

Suiteness runs from 1 at the cluster centre to 0.01 at its edge; outliers (``'!!'``) score 0.
The cluster centres, half-widths ``w`` and ranges come from ``suite_table.json``, derived from
the Richardson lab's suitename by ``tools/build_suite_table.py``. Angles are degrees on
[0, 360), as suitename uses them (differences are not wrapped, as in suitename).

    >>> from cryonb import data
    >>> from cryonb.validation.suites import suites
    >>> result = suites(data.load_corpus_structure("1K5I"))
    >>> result.n_suites, round(result.mean_suiteness, 3), result.n_outliers
    (22, 0.435, 3)
"""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import gemmi
import numpy as np

from ..geometry.linking import dihedral_deg as dihedrals

TABLE_PATH = Path(__file__).with_name("suite_table.json")
ANGLE_NAMES = ("delta_minus", "epsilon_minus", "zeta_minus", "alpha", "beta", "gamma", "delta")
OUTLIER = "!!"
LINK_CUTOFF = 2.5  # Å, O3'(i-1)-P(i); a real bond is 1.6 Å
INNER = slice(1, 5)  # epsilon-1, zeta-1, alpha, beta: the dimensions that pick a cluster
# triage filters checked after the pucker and gamma bins, in suitename's order:
# (angle index, table key, reason reported)
_LATE_TRIAGE = ((3, "alpha", "alpha"), (4, "beta", "beta"), (2, "zeta_minus", "zeta-1"))
# the seven torsions as (residue offset, atom name) quadruples; offset -1 is residue i-1
TORSIONS = (
    ((-1, "C5'"), (-1, "C4'"), (-1, "C3'"), (-1, "O3'")),
    ((-1, "C4'"), (-1, "C3'"), (-1, "O3'"), (0, "P")),
    ((-1, "C3'"), (-1, "O3'"), (0, "P"), (0, "O5'")),
    ((-1, "O3'"), (0, "P"), (0, "O5'"), (0, "C5'")),
    ((0, "P"), (0, "O5'"), (0, "C5'"), (0, "C4'")),
    ((0, "O5'"), (0, "C5'"), (0, "C4'"), (0, "C3'")),
    ((0, "C5'"), (0, "C4'"), (0, "C3'"), (0, "O3'")),
)
_NEEDED = sorted({atom for torsion in TORSIONS for atom in torsion})


@dataclass(frozen=True)
class SuiteRecord:
    """One complete suite, labelled with its second residue (which holds 4 of the 7 torsions).

    ``angles`` are the seven torsions in degrees on [0, 360), in ``ANGLE_NAMES`` order;
    ``cluster`` is the conformer name (``'1a'``) or ``'!!'``; ``bin`` is suitename's bin name
    (``'33 p'``) or ``'trig'`` when triaged; ``reason`` names the triaged torsion
    (``'gamma'``), ``'7D dist 1a'`` when the 7-D rescoring threw the suite out of its cluster,
    ``'no cluster'`` when none was near, else ``''``.
    """

    chain: str
    seqid: str
    resname: str
    angles: tuple[float, ...]
    cluster: str
    suiteness: float
    bin: str
    reason: str = ""

    @property
    def is_outlier(self) -> bool:
        return self.cluster == OUTLIER

    def angle(self, name: str) -> float:
        """One torsion by name (``'alpha'``, ``'delta_minus'``, ...), degrees."""
        return self.angles[ANGLE_NAMES.index(name)]


@dataclass
class SuiteResult:
    """Every complete suite of a model and the MolProbity summary.

    ``n_incomplete`` counts RNA residues that start no complete suite (chain starts, residues
    after a break, missing backbone atoms); MolProbity lists them as ``'__'`` and leaves them
    out of the average. The mean counts outliers as 0, triaged ones included (as
    ``mmtbx.suitename.suitealyze`` does); it is NaN when there are no suites.
    """

    records: list[SuiteRecord] = field(default_factory=list)
    n_incomplete: int = 0

    @property
    def n_suites(self) -> int:
        return len(self.records)

    @property
    def n_outliers(self) -> int:
        return sum(r.is_outlier for r in self.records)

    @property
    def mean_suiteness(self) -> float:
        if not self.records:
            return math.nan
        return float(np.mean([r.suiteness for r in self.records]))

    @property
    def clusters(self) -> list[str]:
        """Conformer names in chain order, e.g. ``['1a', '1a', '!!', ...]``."""
        return [r.cluster for r in self.records]

    def summary(self) -> dict:
        """JSON-ready totals: n_suites, mean_suiteness (None without suites), n_outliers."""
        mean = self.mean_suiteness
        return {"n_suites": self.n_suites, "mean_suiteness": None if math.isnan(mean) else mean,
                "n_outliers": self.n_outliers, "n_incomplete": self.n_incomplete}


# ---------------------------------------------------------------------------------------------
# the reference table


@dataclass(frozen=True)
class _Bin:
    """One delta-1/delta/gamma bin: its clusters' names, roles and centres (k, 7) in degrees."""

    name: str
    names: tuple[str, ...]
    dominance: tuple[str, ...]
    centers: np.ndarray
    dominant: int  # index of the dominant cluster, -1 when the bin has none


@dataclass(frozen=True)
class _Table:
    widths: np.ndarray  # (7,) half-widths in degrees
    ranges: dict
    satellites: dict  # satellite name -> (dominant widths (7,), satellite widths (7,))
    bins: dict  # (delta-1 pucker, delta pucker, gamma) -> _Bin


@functools.lru_cache(maxsize=1)
def load_table(path: str | Path = TABLE_PATH) -> _Table:
    """Read the suite conformer table (see ``tools/build_suite_table.py``)."""
    raw = json.loads(Path(path).read_text())
    widths = np.asarray(raw["half_widths"], float)
    satellites = {}
    for name, s in raw["satellites"].items():
        dom, sat = np.asarray(s["dominant_widths"]), np.asarray(s["satellite_widths"])
        satellites[name] = (np.where(dom > 0, dom, widths), np.where(sat > 0, sat, widths))
    bins = {}
    for b in raw["bins"]:
        cl = b["clusters"]
        dominance = tuple(c["dominance"] for c in cl)
        key = (str(b["delta_minus_pucker"]), str(b["delta_pucker"]), b["gamma"])
        bins[key] = _Bin(b["name"], tuple(c["name"] for c in cl), dominance,
                         np.asarray([c["center"] for c in cl], float).reshape(-1, 7),
                         dominance.index("dom") if "dom" in dominance else -1)
    return _Table(widths, raw["ranges"], satellites, bins)


# ---------------------------------------------------------------------------------------------
# classification of one suite


def _distance(x: np.ndarray, centers: np.ndarray, widths: np.ndarray, dims=slice(0, 7)):
    """Power-3 scaled distance from angles ``x`` (7,) to each centre (k, 7); unitless."""
    scaled = np.abs(x[dims] - centers[..., dims]) / widths[dims]
    return np.sum(scaled ** 3, axis=-1) ** (1.0 / 3.0)


def _sieve(angle: float, windows: dict) -> str | None:
    """The label of the first inclusive [lo, hi] window holding ``angle``, or None."""
    for label, (lo, hi) in windows.items():
        if lo <= angle <= hi:
            return label
    return None


def _bin_key(x: np.ndarray, ranges: dict) -> tuple[tuple | None, str]:
    """Suitename's triage: the bin key, or None with the name of the offending torsion."""
    lo, hi = ranges["epsilon_minus"]
    if not lo <= x[1] <= hi:
        return None, "epsilon-1"
    pucker_m = _sieve(x[0], ranges["delta_pucker"])
    if pucker_m is None:
        return None, "delta-1"
    pucker = _sieve(x[6], ranges["delta_pucker"])
    if pucker is None:
        return None, "delta"
    gamma = _sieve(x[5], ranges["gamma"])
    if gamma is None:
        return None, "gamma"
    for index, key, reason in _LATE_TRIAGE:
        lo, hi = ranges[key]
        if not lo <= x[index] <= hi:
            return None, reason
    return (pucker_m, pucker, gamma), ""


def _dominant_or_satellite(x: np.ndarray, b: _Bin, sat: int, d4: np.ndarray, table: _Table) -> int:
    """Between a dominant cluster and its satellite, decide which one a suite belongs to.

    If the suite lies between the two centres (both 4-D dot products positive) the two
    clusters are compared with their own, pair-specific widths; otherwise by plain distance.
    """
    dom = b.dominant
    dom_to_sat = (b.centers[dom] - b.centers[sat])[INNER]
    dps = np.dot((b.centers[dom] - x)[INNER], dom_to_sat)
    spd = np.dot((b.centers[sat] - x)[INNER], -dom_to_sat)
    if dps > 0 and spd > 0:
        w_dom, w_sat = table.satellites.get(b.names[sat], (table.widths, table.widths))
        to_dom = _distance(x, b.centers[dom], w_dom, INNER)
        to_sat = _distance(x, b.centers[sat], w_sat, INNER)
        return dom if to_dom < to_sat else sat
    return dom if d4[dom] < d4[sat] else sat


def _pick_cluster(x: np.ndarray, b: _Bin, table: _Table) -> int | None:
    """Index of the cluster of bin ``b`` chosen in 4-D, or None when none is within 1."""
    if not b.names:
        return None
    d4 = _distance(x, b.centers, table.widths, INNER)
    inside = d4 < 1
    if not inside.any():
        return None
    closest = int(np.argmin(d4))  # first of equals, as suitename
    if inside.sum() == 1 or b.dominant < 0 or not inside[b.dominant]:
        return closest
    others = np.where(np.arange(len(d4)) == b.dominant, np.inf, d4)
    best = int(np.argmin(others))
    if b.dominance[best] == "sat":
        return _dominant_or_satellite(x, b, best, d4, table)
    return b.dominant if d4[b.dominant] < d4[best] else best


def classify(angles, table: _Table | None = None) -> tuple[str, float, str, str]:
    """Classify one suite's seven torsions (degrees, any range) like suitename.

    Returns ``(cluster, suiteness, bin name, reason)``; see :class:`SuiteRecord`.
    """
    table = table or load_table()
    x = _wrap360(angles)
    key, reason = _bin_key(x, table.ranges)
    if key is None:
        return OUTLIER, 0.0, "trig", reason
    b = table.bins[key]
    j = _pick_cluster(x, b, table)
    if j is None:
        return OUTLIER, 0.0, b.name, "no cluster"
    d7 = float(_distance(x, b.centers[j], table.widths))
    if d7 > 1:
        return OUTLIER, 0.0, b.name, f"7D dist {b.names[j]}"
    return b.names[j], max((math.cos(math.pi * d7) + 1) / 2, 0.01), b.name, ""


# ---------------------------------------------------------------------------------------------
# torsions from a model


def _wrap360(angles) -> np.ndarray:
    """Degrees mapped onto [0, 360)."""
    a = np.mod(np.asarray(angles, float), 360.0)
    return np.where(a >= 360.0, 0.0, a)  # mod of a tiny negative rounds up to 360


def _backbone(res: gemmi.Residue) -> dict[str, np.ndarray]:
    """Atom positions (Å) of one residue by name; the first alternate conformation wins."""
    out = {}
    for atom in res:
        if atom.name not in out:
            out[atom.name] = np.array(atom.pos.tolist())
    return out


def _has_ribose(atoms: dict) -> bool:
    """A ribonucleotide has a ribose with its 2' oxygen (DNA and amino acids lack O2')."""
    return "O2'" in atoms and "C4'" in atoms


def _linked(prev: dict, atoms: dict, link_cutoff: float) -> bool:
    """True when O3' of ``prev`` is within ``link_cutoff`` Å of P of ``atoms``."""
    return ("O3'" in prev and "P" in atoms
            and float(np.linalg.norm(prev["O3'"] - atoms["P"])) < link_cutoff)


def _rna_residues(chain: gemmi.Chain, link_cutoff: float) -> list[tuple[gemmi.Residue, dict]]:
    """The chain's ribonucleotides in order with their atoms; unlinked ligands (ATP) left out."""
    cand = [(r, _backbone(r)) for r in chain]
    cand = [(r, a) for r, a in cand if _has_ribose(a)]
    link = [False] + [_linked(cand[k - 1][1], cand[k][1], link_cutoff) for k in range(1, len(cand))]
    link.append(False)
    keep = []
    for k, (res, atoms) in enumerate(cand):
        info = gemmi.find_tabulated_residue(res.name)
        if (info is not None and info.is_nucleic_acid()) or link[k] or link[k + 1]:
            keep.append((res, atoms))
    return keep


def _chain_suites(chain: gemmi.Chain, link_cutoff: float):
    """Ids and atom quadruples (n, 7, 4, 3) in Å of one chain's complete suites; n incomplete."""
    residues = _rna_residues(chain, link_cutoff)
    ids, quads, incomplete = [], [], 0
    for k, (res, atoms) in enumerate(residues):
        pair = (residues[k - 1][1] if k > 0 else {}, atoms)
        if not _linked(pair[0], atoms, link_cutoff) or any(
                name not in pair[off + 1] for off, name in _NEEDED):
            incomplete += 1
            continue
        quads.append([[pair[off + 1][name] for off, name in t] for t in TORSIONS])
        ids.append((chain.name, str(res.seqid).strip(), res.name))
    return ids, np.asarray(quads, float).reshape(-1, 7, 4, 3), incomplete


def suite_angles(st: gemmi.Structure, link_cutoff: float = LINK_CUTOFF):
    """Residue ids ``(chain, seqid, resname)``, torsions (n, 7) in degrees [0, 360), n incomplete.

    Only the first model is read. Two RNA residues form a suite when they follow each other
    in a chain and O3'(i-1)-P(i) is shorter than ``link_cutoff`` Å.
    """
    ids, blocks, incomplete = [], [], 0
    if len(st) > 0:
        for chain in st[0]:
            c_ids, quads, n_inc = _chain_suites(chain, link_cutoff)
            ids += c_ids
            blocks.append(quads)
            incomplete += n_inc
    quads = np.concatenate(blocks) if blocks else np.zeros((0, 7, 4, 3))
    return ids, _wrap360(dihedrals(quads)), incomplete


def suites(st: gemmi.Structure, link_cutoff: float = LINK_CUTOFF) -> SuiteResult:
    """Suitename on every RNA suite of the first model of ``st``.

    Residues i-1 and i form a suite when both are ribonucleotides, i follows i-1 in its chain
    and O3'(i-1)-P(i) < ``link_cutoff`` Å (cctbx links up to 3.5 Å). Protein, DNA and empty
    models give a result with no suites.
    """
    table = load_table()
    ids, angles, incomplete = suite_angles(st, link_cutoff)
    records = []
    for (chain, seqid, resname), x in zip(ids, angles):
        cluster, suiteness, bin_name, reason = classify(x, table)
        records.append(SuiteRecord(chain, seqid, resname, tuple(float(a) for a in x), cluster,
                                   float(suiteness), bin_name, reason))
    return SuiteResult(records, incomplete)
