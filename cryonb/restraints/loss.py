"""All geometry terms of a model in one weighted loss (what refinement minimises besides the map).

Terms (each a per-model mean, so weights are comparable across model sizes): bond and angle
Z likelihood + 4.5 sigma hinge against the conformation-dependent library (refreshed with the
clash list, as phi/psi move), planarity, the peptide omega (trans or cis as the link says, esd 5
degrees, the 4.5 sigma hinge well inside MolProbity's 30 degree twist), chirality, clashes with
riding hydrogens, the C-beta position (two dihedrals, as phenix's c_beta_restraints), and the
Ramachandran, rotamer and RNA-suite priors, and a tether holding waters and ions near their start.
``terms(xyz)`` returns every term for a batch of
models (..., n, 3); ``__call__`` returns the weighted sum.

>>> from cryonb import data
>>> from cryonb.geometry.library import RestraintLibrary
>>> from cryonb.geometry.topology import build_topology
>>> st = data.adk_closed()
>>> library = RestraintLibrary()
>>> topo = build_topology(st, library, warn=False)
>>> loss = GeometryLoss(topo, library, topo.xyz(st))
>>> xyz = torch.as_tensor(topo.xyz(st))
>>> sorted(loss.terms(xyz))[:4]
['angle', 'bond', 'cbeta', 'chirality']
>>> bool(loss(xyz) > 0)
True
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..geometry import terms
from ..geometry.cbeta import DIHEDRAL_SIGMA as CBETA_SIGMA
from ..geometry.cbeta import cbeta_dihedrals
from ..priors import load_priors
from ..geometry.cdl import CDLPlan
from ..geometry.clashes import ClashTerm
from .torsion_priors import RamaTerm, RotamerTerm, SuiteTerm

TETHER_SIGMA = 0.3   # Å: waters and ions move freely by about this much from their start


@dataclass
class GeometryWeights:
    """Relative weight of each geometry term (0 switches a term off)."""

    bond: float = 1.0
    angle: float = 1.0
    planarity: float = 1.0
    omega: float = 1.0      # peptide omega at 180 (trans) or 0 (cis), esd 5 degrees
    cbeta: float = 1.0      # C-beta at its ideal position: two dihedrals, esd 2.5 degrees (cbeta.py)
    chirality: float = 1.0
    clash: float = 300.0
    rama: float = 6.0
    rotamer: float = 3.0
    suite: float = 1.0
    tether: float = 1.0     # waters and ions, to their start (TETHER_SIGMA)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


class GeometryLoss:
    """Weighted geometry loss of one topology.

    Every ``refresh_every`` calls the CDL ideals and the clash list are renewed; 0 leaves that
    to explicit :meth:`refresh` calls (L-BFGS needs a fixed objective within a line search).
    """

    def __init__(self, topo, library, xyz0: np.ndarray, weights: GeometryWeights | None = None,
                 priors=None, cdl: bool = True, refresh_every: int = 50, neighbours: int = 128):
        self.topo, self.weights, self.cdl = topo, weights or GeometryWeights(), cdl
        self.refresh_every, self.steps = refresh_every, 0
        self.cdl_plan = CDLPlan(topo) if cdl else None
        self.restraints = self.cdl_plan.restraints(xyz0) if cdl else topo.restraints
        w = self.weights
        # the clash list is renewed by refresh(), with the CDL ideals
        self.clash = ClashTerm(topo, library, neighbours, refresh_every=0) if w.clash else None
        if (w.rama or w.rotamer) and priors is None:
            priors = load_priors()
        self.rama = RamaTerm(topo, xyz0, priors.rama) if w.rama else None
        self.rotamer = RotamerTerm(topo, priors.rotamer) if w.rotamer else None
        self.suite = SuiteTerm(topo) if w.suite else None
        r0 = topo.restraints          # torsions are the same in the CDL restraints
        k = np.flatnonzero(r0.torsion_names == "omega")
        self.omega, self.omega_ideal, self.omega_sigma = r0.torsions[k], r0.torsion_ideal[k], r0.torsion_sigma[k]
        self.cbeta, self.cbeta_ideal = cbeta_dihedrals(topo)
        self.cbeta_sigma = np.full(len(self.cbeta), CBETA_SIGMA)
        tethered = getattr(topo.atoms, "tethered", None)
        self.tethered = None if tethered is None or not tethered.any() or not w.tether else \
            torch.as_tensor(np.flatnonzero(tethered))
        self.tether_start = None if self.tethered is None else torch.as_tensor(xyz0)[self.tethered]

    def refresh(self, xyz: torch.Tensor, every_model: bool = False) -> None:
        """Recompute CDL ideals at the current phi/psi (first model of a batch) and the clash list
        (first model, or with ``every_model`` the union of every model's pairs) when atoms have
        moved enough to need it (:meth:`~cryonb.geometry.clashes.ClashTerm.refresh`)."""
        batch = xyz.detach().reshape(-1, *xyz.shape[-2:])
        x = batch[0]
        if self.cdl:
            self.restraints = self.cdl_plan.restraints(x.cpu().numpy().astype(np.float64))
        if self.clash is not None:      # the clash list only once atoms moved enough to need it
            self.clash.refresh(self.clash.atoms.coordinates(self.topo, batch if every_model else x),
                               every_model, if_moved=True)

    def terms(self, xyz: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every active term, each of the batch shape of ``xyz`` (..., n, 3)."""
        if self.refresh_every and self.steps and self.steps % self.refresh_every == 0:
            self.refresh(xyz)
        self.steps += 1
        r, w = self.restraints, self.weights
        out = {}
        if w.bond:
            out["bond"] = terms.bond_loss(xyz, r)
        if w.angle:
            out["angle"] = terms.angle_loss(xyz, r)
        if w.planarity:
            out["planarity"] = terms.planarity_loss(xyz, r)
        if w.omega and len(self.omega):
            out["omega"] = terms.torsion_loss(xyz, self.omega, self.omega_ideal, self.omega_sigma)
        if w.cbeta and len(self.cbeta):
            out["cbeta"] = terms.torsion_loss(xyz, self.cbeta, self.cbeta_ideal, self.cbeta_sigma)
        if w.chirality:
            out["chirality"] = terms.chirality_loss(xyz, r)
        for name in ("clash", "rama", "rotamer", "suite"):
            term = getattr(self, name)
            if term is not None:
                out[name] = term(xyz)
        if self.tethered is not None:
            shift = xyz.index_select(-2, self.tethered) - self.tether_start.to(xyz.dtype)
            out["tether"] = 0.5 * (shift ** 2).sum(-1).mean(-1) / TETHER_SIGMA ** 2
        return out

    def weighted(self, values: dict[str, torch.Tensor]) -> torch.Tensor:
        w = self.weights.as_dict()
        return sum(w[k] * v for k, v in values.items())

    def __call__(self, xyz: torch.Tensor) -> torch.Tensor:
        return self.weighted(self.terms(xyz))
