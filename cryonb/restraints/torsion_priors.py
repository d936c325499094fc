"""Differentiable Ramachandran, rotamer and RNA-suite terms from the fitted torsion priors.

Each protein residue is scored by the periodic Gaussian mixture of its Ramachandran class (and
its rotamer type) at its current dihedrals, ``s = ln(G + e^-10)``, the smooth stand-in for the
Top8000 table (:mod:`cryonb.priors`). The loss per residue is the negative log-likelihood
``-s / 10`` (0 at the most populated region, 1 in empty space) plus hinges that push a residue
out of the outlier zone and into the favoured zone:

    loss = -s/10 + w_out * relu(ln(allowed) + margin - s)^2 + w_fav * relu(ln(favoured) + margin - s)^2

averaged over residues. Classes (cis/trans-Pro, pre-Pro, ...) are decided once, from the
starting model, so a residue cannot hop between tables during refinement.

RNA suites: each suite's seven backbone dihedrals are compared with all 46 consensus conformers
of suitename by the scaled power-3 distance; every suite is held to its nearest conformer, so
an outlier still counts (the seed's rule): ``loss = 1 - suiteness(d)`` inside the cluster and
``d`` beyond it.
"""
from __future__ import annotations

import json
import math

import numpy as np
import torch

from ..priors.bank import ResidueMixtures
from ..validation import rama as rama_tables
from ..validation import rotamer as rotamer_tables
from ..validation.suites import TABLE_PATH, TORSIONS
from ..geometry.linking import dihedral_deg
from ..geometry.named_torsions import named_torsions
from ..geometry.terms import dihedrals_deg

OUTLIER_WEIGHT = 1.0
FAVORED_WEIGHT = 0.2
MARGIN = 0.5      # in ln units: aim a factor e^0.5 inside the threshold
ESCAPE_WIDEN = 4.0  # widths of the guiding mixture for residues stuck in empty regions


def escape_loss(table: ResidueMixtures, x: torch.Tensor, s: torch.Tensor, allowed: torch.Tensor,
                widen: float = ESCAPE_WIDEN, margin: float = MARGIN) -> torch.Tensor:
    """For residues below the allowed cut-off (+ margin), -ln of their mixture with every width
    multiplied by ``widen``, in log-sum-exp form: deep in an empty region ln(G + e^-10) is flat,
    this still points towards the nearest populated region. Zero elsewhere. x (..., m, D),
    s (..., m) -> (..., m); only the residues stuck in some model of the batch are evaluated."""
    stuck = (s < torch.log(allowed) + margin).detach()
    rows = torch.nonzero(stuck.reshape(-1, s.shape[-1]).any(0)).reshape(-1)
    out = torch.zeros_like(s)
    if len(rows) == 0:
        return out
    log_g = table.widened_log_density(x.index_select(-2, rows), widen, rows)
    part = torch.where(stuck.index_select(-1, rows), -log_g / widen, torch.zeros_like(log_g))
    return out.index_add(-1, rows, part)


def hinge_loss(s: torch.Tensor, allowed: torch.Tensor, favored: float, w_out: float = OUTLIER_WEIGHT,
               w_fav: float = FAVORED_WEIGHT, margin: float = MARGIN) -> torch.Tensor:
    """Per-residue prior loss from log-scores ``s`` (..., m) and thresholds (fractions)."""
    return (-s / 10.0 + w_out * torch.relu(torch.log(allowed) + margin - s) ** 2
            + w_fav * torch.relu(math.log(favored) + margin - s) ** 2)


class RamaTerm:
    """Ramachandran prior over every residue with phi and psi; ``mixtures[class]``."""

    def __init__(self, topo, xyz0: np.ndarray, mixtures: dict):
        tors = named_torsions(topo)
        phi_idx, phi_res = tors.get("phi", (np.zeros((0, 4), int), np.zeros(0, int)))
        psi_idx, psi_res = tors.get("psi", (np.zeros((0, 4), int), np.zeros(0, int)))
        common, i, j = np.intersect1d(phi_res, psi_res, return_indices=True)
        self.residues, self.phi, self.psi = common, phi_idx[i], psi_idx[j]
        self.quads = np.concatenate([self.phi, self.psi]).reshape(-1, 4)
        self.classes = rama_class_of(topo, xyz0, common, tors)
        names = sorted(set(self.classes.tolist()))
        self.table = ResidueMixtures([mixtures[c] for c in names], [names.index(c) for c in self.classes]) \
            if names else None
        self.allowed = np.array([rama_tables.ALLOWED.get(c, rama_tables.ALLOWED_OTHER) for c in self.classes])

    def angles(self, xyz: torch.Tensor) -> torch.Tensor:
        """(..., m, 2) phi and psi in degrees."""
        m = len(self.residues)
        return dihedrals_deg(xyz, self.quads).reshape(*xyz.shape[:-2], 2, m).transpose(-1, -2)

    def scored(self, xyz: torch.Tensor):
        """One group: (table, angles (..., m, 2), log-scores (..., m), allowed (m,))."""
        if self.table is None:
            return
        x = self.angles(xyz)
        s = self.table.log_score(x)
        yield self.table, x, s, torch.as_tensor(self.allowed, dtype=s.dtype)

    def outliers(self, xyz: torch.Tensor) -> torch.Tensor:
        """(...,) Ramachandran outliers as the validation counts them: residues whose Top8000
        table score at the current phi/psi is below their class's allowed cut-off."""
        with torch.no_grad():
            phi, psi = (dihedrals_deg(xyz, idx).reshape(-1, len(self.residues)).numpy()
                        for idx in (self.phi, self.psi))
        classes = np.tile(self.classes, len(phi))
        score = rama_tables.rama_scores(classes, phi.ravel(), psi.ravel()).reshape(phi.shape)
        return torch.as_tensor((score < self.allowed).sum(-1)).reshape(xyz.shape[:-2])

    def __call__(self, xyz: torch.Tensor) -> torch.Tensor:
        if len(self.residues) == 0:
            return xyz.sum((-1, -2)) * 0
        total = 0.0
        for table, x, s, allowed in self.scored(xyz):
            total = total + (hinge_loss(s, allowed, rama_tables.FAVORED)
                             + escape_loss(table, x, s, allowed)).sum(-1)
        return total / len(self.residues)


def rama_class_of(topo, xyz0: np.ndarray, residues: np.ndarray, tors: dict) -> np.ndarray:
    """MolProbity's six classes (:func:`cryonb.validation.rama.classify`) per residue at ``xyz0``."""
    nxt = {lk.i: lk.j for lk in topo.links if lk.polymer}
    w_idx, w_res = tors.get("omega", (np.zeros((0, 4), int), np.zeros(0, int)))
    omega = dict(zip(w_res.tolist(), dihedral_deg(xyz0[w_idx]).tolist())) if len(w_idx) else {}
    ks = residues.tolist()
    return rama_tables.classify([topo.residues[k].name for k in ks],
                                [topo.residues[nxt[k]].name if k in nxt else "" for k in ks],
                                [omega.get(k, np.nan) for k in ks])


class RotamerTerm:
    """Rotamer prior over side chains whose chis are all present; ``mixtures[resname]``.

    Residue types with the same number of chis are scored together (one table per count)."""

    def __init__(self, topo, mixtures: dict):
        tors = named_torsions(topo)
        chi = {n: dict(zip(tors[n][1].tolist(), tors[n][0])) for n in ("chi1", "chi2", "chi3", "chi4")
               if n in tors}
        rows: list[tuple[int, str, np.ndarray]] = []
        for k, r in enumerate(topo.residues):
            mix = mixtures.get(r.name)
            if r.polymer != "peptide" or mix is None:
                continue
            quads = [chi[n].get(k) for n in ("chi1", "chi2", "chi3", "chi4")[:mix.ndim] if n in chi]
            if len(quads) == mix.ndim and all(q is not None for q in quads):
                rows.append((k, r.name, np.stack(quads)))
        self.n = len(rows)
        self.quads = np.concatenate([q for _, _, q in rows]).reshape(-1, 4) if rows else np.zeros((0, 4), np.int64)
        first = np.cumsum([0] + [len(q) for _, _, q in rows])
        self.groups = []      # (index of each chi in self.quads (m, d), table)
        for d in sorted({len(q) for _, _, q in rows}):
            sel = [i for i, (_, _, q) in enumerate(rows) if len(q) == d]
            names = sorted({rows[i][1] for i in sel})
            table = ResidueMixtures([mixtures[n] for n in names], [names.index(rows[i][1]) for i in sel])
            chis = np.array([first[i] + np.arange(d) for i in sel], dtype=np.int64)
            self.groups.append((torch.as_tensor(chis), table))

    def scored(self, xyz: torch.Tensor):
        """Per number of chis d: (table, chis (..., m_d, d) degrees, log-scores (..., m_d))."""
        if self.n == 0:
            return
        angles = dihedrals_deg(xyz, self.quads)
        for chis, table in self.groups:
            x = angles.index_select(-1, chis.reshape(-1)).reshape(*angles.shape[:-1], *chis.shape)
            yield table, x, table.log_score(x)

    def __call__(self, xyz: torch.Tensor) -> torch.Tensor:
        if self.n == 0:
            return xyz.sum((-1, -2)) * 0
        total = 0.0
        for table, chis, s in self.scored(xyz):
            allowed = torch.full_like(s, rotamer_tables.OUTLIER)
            total = total + (hinge_loss(s, allowed, rotamer_tables.FAVORED)
                             + escape_loss(table, chis, s, allowed)).sum(-1)
        return total / self.n


class SuiteTerm:
    """RNA suite prior: every suite held to its nearest suitename conformer (7 dihedrals)."""

    def __init__(self, topo):
        self.centres, widths = suite_centres()
        self.centres, self.half_widths = torch.as_tensor(self.centres), torch.as_tensor(widths)
        self.power = 3.0
        self.quads = suite_quads(topo)

    def distances(self, xyz: torch.Tensor) -> torch.Tensor:
        """(..., m, 46) scaled power-3 distance of each suite to every conformer."""
        m = len(self.quads)
        x = dihedrals_deg(xyz, self.quads.reshape(-1, 4)).reshape(*xyz.shape[:-2], m, 7)
        x = torch.remainder(x, 360.0)
        diff = (x[..., None, :] - self.centres.to(x.dtype)).abs() / self.half_widths.to(x.dtype)
        return (diff ** self.power + 1e-12).sum(-1) ** (1.0 / self.power)

    def __call__(self, xyz: torch.Tensor) -> torch.Tensor:
        if len(self.quads) == 0:
            return xyz.sum((-1, -2)) * 0
        d = self.distances(xyz).min(-1).values
        inside = 1 - (1 + torch.cos(math.pi * d.clamp(max=1.0))) / 2
        return (inside + torch.relu(d - 1.0)).mean(-1)


def suite_centres() -> tuple[np.ndarray, np.ndarray]:
    """The 46 'certain' suitename conformers (46, 7) and the half-widths (7,), degrees."""
    raw = json.loads(TABLE_PATH.read_text())
    centres = [c["center"] for b in raw["bins"] for c in b["clusters"] if c["status"] == "certain"]
    return np.array(centres, dtype=float), np.array(raw["half_widths"], dtype=float)


def suite_quads(topo) -> np.ndarray:
    """(m, 7, 4) atom indices of the seven suite dihedrals of each linked nucleotide pair."""
    prev = {lk.j: lk.i for lk in topo.links if lk.polymer}
    out = []
    for k, r in enumerate(topo.residues):
        if r.polymer != "nucleic" or k not in prev:
            continue
        pair = {-1: topo.residues[prev[k]].atoms, 0: r.atoms}
        quads = [[pair[o].get(name, -1) for o, name in torsion] for torsion in TORSIONS]
        if min(min(q) for q in quads) >= 0:
            out.append(quads)
    return np.array(out, dtype=np.int64).reshape(-1, 7, 4)
