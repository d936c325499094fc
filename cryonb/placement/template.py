"""The search template: a model's density at the search resolution on a cubic box around it.

All heavy atoms of the first model (every chain, ligand and water; hydrogens ignored) form one
rigid body. Every atom gets one uniform B-factor (:data:`TEMPLATE_B`): an experimental model's
B-factors matter little at a search resolution of 6 Å, and a predicted model's B column holds
pLDDT, not a B-factor. In a predicted model (see :func:`predicted_model`) residues under a pLDDT
cut-off can be left out of the template; they are still moved with the rest.
"""
from __future__ import annotations

from dataclasses import dataclass

import gemmi
import numpy as np

from ..density import SimulationConfig, simulate_map
from ..errors import ModelError
from ..maps import Map

TEMPLATE_B = 30.0        # Å², every atom of the template
FOOTPRINT_LEVEL = 0.05   # footprint: template density above this fraction of its maximum
BOX_MARGIN = 0.6         # template box: the atoms' sphere plus this many resolutions
PREDICTED_WORDS = ("ALPHAFOLD", "COLABFOLD", "_MA_QA_METRIC", "ESMFOLD", "PLDDT")


@dataclass
class Template:
    """A model's search density.

    density: (n, n, n) float32 (z, y, x) on a cubic box of ``voxel`` Å, the atoms' centroid at the
    box centre; centre: (3,) Å, that centroid (x, y, z) in the model's frame; xyz: (N, 3) Å, the
    template's atoms; radius: Å, the largest atom distance from the centre; kept/total: residues
    in the template and in the model; rg: Å, the atoms' radius of gyration.
    """

    density: np.ndarray
    voxel: float
    centre: np.ndarray
    xyz: np.ndarray
    radius: float
    kept: int
    total: int
    rg: float

    @property
    def box_centre(self) -> np.ndarray:
        """Index (z, y, x) of the box centre, where ``centre`` sits."""
        return (np.array(self.density.shape) - 1) / 2.0

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """The footprint's voxels: positions (P, 3) Å (x, y, z) relative to ``centre`` and densities (P,)."""
        mask = self.footprint()
        index = np.argwhere(mask)[:, ::-1] - self.box_centre[::-1]
        return index * self.voxel, self.density[mask].astype(np.float64)

    def footprint(self, density: np.ndarray | None = None) -> np.ndarray:
        """Boolean mask (n, n, n) where ``density`` (default the template's) exceeds the footprint level."""
        d = self.density if density is None else density
        return d > FOOTPRINT_LEVEL * float(self.density.max())


def predicted_model(st: gemmi.Structure) -> str | None:
    """Why ``st`` looks like a predicted model whose B column is pLDDT, or None.

    Recognised: its header (title, remarks) names AlphaFold, ColabFold, ESMFold or pLDDT; or,
    without such a header, every residue has one B value for all its atoms, all within 0-100, with
    at least 10 residues and 5 distinct values (as AlphaFold writes pLDDT; a model refined with one
    B per residue looks the same, so the caller says what it decided).
    """
    header = " ".join([*map(str, st.info.values()), *st.raw_remarks]).upper()
    for word in PREDICTED_WORDS:
        if word in header:
            return f"its header names {word.strip('_').lower()}"
    residues = [r for ch in st[0] for r in ch if not r.is_water() and len(r)]
    per_residue = [{round(a.b_iso, 2) for a in r} for r in residues]
    if len(residues) < 10 or any(len(b) != 1 for b in per_residue):
        return None
    values = np.array([next(iter(b)) for b in per_residue])
    if values.min() >= 0 and values.max() <= 100 and len(np.unique(values)) >= 5:
        return "every residue has one B value for all its atoms, within 0-100 (pLDDT, as AlphaFold writes)"
    return None


def template_atoms(st: gemmi.Structure, min_plddt: float | None = None) -> tuple[np.ndarray, gemmi.Structure, int, int]:
    """Heavy atoms of model 1 kept for the template: coordinates (N, 3) Å, a Structure of them,
    residues kept and residues in all. ``min_plddt``: leave out residues whose B column (pLDDT)
    is below it (None: keep all). ModelError when nothing is left."""
    work = gemmi.Structure()
    work.cell, work.spacegroup_hm = st.cell, st.spacegroup_hm
    model = gemmi.Model("1")
    kept = total = 0
    for chain in st[0]:
        out = gemmi.Chain(chain.name)
        for res in chain:
            total += 1
            atoms = [a for a in res if not a.is_hydrogen()]
            if not atoms or (min_plddt is not None and max(a.b_iso for a in atoms) < min_plddt):
                continue
            r = gemmi.Residue()
            r.name, r.seqid, r.het_flag = res.name, res.seqid, res.het_flag
            for a in atoms:
                b = a.clone()
                b.b_iso = TEMPLATE_B
                r.add_atom(b)
            out.add_residue(r)
            kept += 1
        if len(out):
            model.add_chain(out)
    work.add_model(model)
    if kept == 0:
        cut = f" with pLDDT >= {min_plddt:g}" if min_plddt is not None else ""
        raise ModelError(st.name or None, f"no residue with heavy atoms{cut}: nothing to place")
    xyz = np.array([a.pos.tolist() for ch in work[0] for r in ch for a in r], dtype=np.float64)
    work.name = st.name
    return xyz, work, kept, total


def build_template(st: gemmi.Structure, resolution: float, voxel: float,
                   min_plddt: float | None = None) -> Template:
    """The template of ``st`` simulated at ``resolution`` Å (cryonb.density's electron-scattering
    simulation and low-pass) on a cubic box of ``voxel`` Å holding every orientation of the model."""
    xyz, atoms, kept, total = template_atoms(st, min_plddt)
    centre = xyz.mean(0)
    radius = float(np.sqrt(((xyz - centre) ** 2).sum(1).max()))
    n = int(np.ceil(2 * (radius + BOX_MARGIN * resolution) / voxel)) | 1   # odd: the centre on a voxel
    origin = centre - (n - 1) / 2 * voxel
    grid = Map(np.zeros((n, n, n), np.float32), voxel, origin)
    density = simulate_map(atoms, SimulationConfig(resolution=resolution, b_factor=TEMPLATE_B), like=grid).data
    rg = float(np.sqrt(((xyz - centre) ** 2).sum(1).mean()))
    return Template(np.maximum(density, 0).astype(np.float32), voxel, centre, xyz, radius, kept, total, rg)
