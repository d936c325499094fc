"""The conformation-dependent library: classes, binning and the restraints it rewrites on AdK."""
from __future__ import annotations

import numpy as np
import pytest

from cryonb.geometry.cdl import CDLPlan, cdl_group, cdl_restraints, load_cdl, phi_psi_bin
from cryonb.geometry.linking import dihedral_deg
from cryonb.geometry.named_torsions import named_torsions
from cryonb.geometry.topology import build_topology
from cryonb.perturb import jitter
from cryonb.validation.geometry import covalent_geometry


@pytest.fixture(scope="module")
def adk(adk_closed):
    topo = build_topology(adk_closed, warn=False)
    xyz = topo.xyz(adk_closed)
    return topo, xyz, cdl_restraints(topo, xyz)


def test_table_shape_and_classes():
    t = load_cdl()
    assert t.mean.shape == (8, 36, 36, 12) and t.sigma.shape == t.mean.shape
    gly = t.groups.index("Gly_nonxpro")
    assert np.isnan(t.mean[gly, :, :, t.columns.index("AB")]).all()        # Gly has no CB
    assert not np.isnan(t.mean[t.groups.index("NonPGIV_nonxpro")]).any()
    assert cdl_group("ALA", "GLY") == "NonPGIV_nonxpro" and cdl_group("VAL", "PRO") == "IleVal_xpro"
    assert cdl_group("GLY", "PRO") == "Gly_xpro" and cdl_group("MSE", "ALA") is None


def test_angles_round_to_nearest_ten_degrees_with_180_wrapping():
    assert phi_psi_bin(np.array([-180.0, 175.0, 180.0, -61.0, -64.9, 4.9]) ).tolist() == [0, 0, 0, 12, 12, 18]


def test_backbone_ideals_follow_each_residues_phi_psi(adk):
    assert _check_ideals_follow_phi_psi(*adk) == ["A/PRO87"]       # AdK's one cis peptide


def test_one_plan_renews_the_ideals_at_new_coordinates(adk, adk_closed):
    """The refinement keeps one CDLPlan and renews the ideals from it as phi/psi move."""
    topo, xyz, _ = adk
    plan = CDLPlan(topo)
    plan.restraints(xyz)
    moved = topo.xyz(jitter(adk_closed, 0.4, seed=3))
    renewed = plan.restraints(moved)
    assert not np.array_equal(renewed.bond_ideal, plan.restraints(xyz).bond_ideal)
    assert len(_check_ideals_follow_phi_psi(topo, moved, renewed)) > 1     # noise made cis peptides too


def _check_ideals_follow_phi_psi(topo, xyz, cdl):
    t = load_cdl()
    phi, psi, omega = ({int(k): a for k, a in zip(res, dihedral_deg(xyz[idx]))}
                       for idx, res in (named_torsions(topo)[n] for n in ("phi", "psi", "omega")))
    rows = {tuple(sorted(b)): k for k, b in enumerate(topo.restraints.bonds.tolist())}
    nxt = {lk.i: lk.j for lk in topo.links if lk.polymer}
    cis = {k for k, w in omega.items() if abs(w) < 45}
    checked = set()
    for k in sorted(set(phi) & set(psi)):
        r = topo.residues[k]
        row = rows[tuple(sorted((r.atoms["N"], r.atoms["CA"])))]
        if k in cis or nxt[k] in cis:   # a triple with a cis peptide: cis-Pro values or the library's
            expected = (t.cis_pro_mean[t.cis_pro_columns.index("NA")] if r.name == "PRO"
                        else topo.restraints.bond_ideal[row])
            assert cdl.bond_ideal[row] == pytest.approx(expected)
            continue
        g = t.groups.index(cdl_group(r.name, topo.residues[nxt[k]].name))
        expected = t.mean[g, phi_psi_bin(phi[k]), phi_psi_bin(psi[k]), t.columns.index("NA")]
        assert cdl.bond_ideal[row] == pytest.approx(expected)
        checked.add(r.name)
    assert {"GLY", "PRO", "ILE", "VAL", "ALA"} <= checked
    first = topo.residues[0]   # the N-terminus has no phi: library values kept
    row = rows[tuple(sorted((first.atoms["N"], first.atoms["CA"])))]
    assert cdl.bond_ideal[row] == topo.restraints.bond_ideal[row]
    return [topo.residue_label(k) for k in sorted(cis)]


def test_cdl_changes_only_backbone_terms_and_fits_a_real_structure_better(adk):
    topo, xyz, cdl = adk
    changed = np.flatnonzero(cdl.angle_ideal != topo.restraints.angle_ideal)
    names = {tuple(topo.atoms.names[a]) for a in topo.restraints.angles[changed]}
    backbone = {"N", "CA", "C", "O", "CB", "CG", "CD"}   # CG, CD: the cis-Pro ring
    assert changed.size > 300 and all(set(n) <= backbone for n in names)
    assert np.array_equal(cdl.bonds, topo.restraints.bonds)
    with_cdl, _ = covalent_geometry(topo, xyz, cdl)
    library, _ = covalent_geometry(topo, xyz)
    assert with_cdl["bond_rmsz"] < library["bond_rmsz"]
    assert with_cdl["angle_rmsz"] < library["angle_rmsz"]
