"""Side-chain chi rotation (ChiTree) and the rotamer rebuild on AdK in a simulated 2.5 Å map."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy import ndimage

from cryonb.density.simulate import SimulationConfig, simulate_map
from cryonb.errors import ModelError
from cryonb.geometry.chi import ChiTree
from cryonb.geometry.terms import angles_deg, distances
from cryonb.geometry.topology import build_topology
from cryonb.priors import load_priors
from cryonb.refinement.rotamer_rebuild import (MapSampler, RebuildConfig, chi_change, chi_periods,
                                               rebuild_rotamers, rotamer_peaks)
from cryonb.validation import rotamer as rotamer_tables
from cryonb.validation.reference_data import top8000_dir

PERTURBED_TYPES = {"PHE", "TYR", "LEU", "ARG", "GLU", "LYS", "MET"}


@pytest.fixture(scope="module")
def adk(adk_closed):
    topo = build_topology(adk_closed, warn=False)
    return adk_closed, topo, ChiTree(topo), topo.xyz(adk_closed)


@pytest.fixture(scope="module")
def adk_map_25(adk_closed):
    return simulate_map(adk_closed, SimulationConfig(resolution=2.5, voxel_size=1.0))


def _wrap(a):
    return (a + 180.0) % 360.0 - 180.0


def test_chi_tree_atoms(adk):
    _, topo, tree, _ = adk
    names = [topo.residues[k].name for k in tree.residue]
    assert "PRO" not in names and "GLY" not in names and "ALA" not in names     # ring / no chi
    lys = int(np.flatnonzero(np.array(names) == "LYS")[0])
    moving = [set(topo.atoms.names[row[row >= 0]]) for row in tree.moving[lys:lys + 4]]
    assert moving == [{"CG", "CD", "CE", "NZ"}, {"CD", "CE", "NZ"}, {"CE", "NZ"}, {"NZ"}]
    assert tree.level[lys:lys + 4].tolist() == [1, 2, 3, 4]
    assert tree.n == len(tree.residue) == len(tree.quad) and tree.quad.shape[1] == 4
    assert (tree.level == 1).sum() == sum(r.name not in {"GLY", "ALA", "PRO"} for r in topo.residues)


def test_apply_turns_chis_and_keeps_geometry(adk):
    _, topo, tree, xyz = adk
    x = torch.as_tensor(xyz)
    delta = torch.as_tensor(np.random.default_rng(0).uniform(-np.pi, np.pi, (2, tree.n)))
    y = tree.apply(x, delta)                                          # one model, two deltas
    expected = _wrap(tree.chi_deg(x) + torch.rad2deg(delta))
    assert _wrap(tree.chi_deg(y) - expected).abs().max() < 1e-6
    r = topo.restraints
    assert (distances(y, r.bonds) - distances(x, r.bonds)).abs().max() < 1e-4
    assert (angles_deg(y, r.angles) - angles_deg(x, r.angles)).abs().max() < 1e-4
    assert torch.allclose(tree.apply(x, torch.zeros(tree.n, dtype=x.dtype)), x, rtol=0, atol=1e-12)
    target = torch.full((tree.n,), -100.0, dtype=x.dtype)
    assert _wrap(tree.chi_deg(tree.set_chi(x, target)) + 100.0).abs().max() < 1e-6
    assert np.array_equal(x.numpy(), xyz)                             # input untouched


def test_apply_gradcheck(adk):
    _, topo, tree, xyz = adk
    picks = [next(k for k in tree.residues() if topo.residues[k].name == n) for n in ("LYS", "PHE", "MET")]
    local, atoms = tree.select(np.isin(tree.residue, picks)).compact()
    x = torch.as_tensor(xyz[atoms]).requires_grad_(True)
    delta = torch.linspace(-1.0, 1.5, local.n, dtype=torch.float64).requires_grad_(True)
    assert torch.autograd.gradcheck(local.apply, (x, delta), eps=1e-6, atol=1e-5)


def test_map_sampler_is_trilinear(adk, adk_map_25):
    _, _, _, xyz = adk
    m = adk_map_25
    ref = ndimage.map_coordinates(m.data.astype(np.float64), m.xyz_to_index(xyz)[:, ::-1].T, order=1)
    ref = (ref - m.data.mean()) / m.data.std()
    assert np.abs(MapSampler(m)(torch.as_tensor(xyz)).numpy() - ref).max() < 1e-4


def test_rotamer_peaks_are_favoured():
    mix = load_priors().rotamer["LEU"]
    peaks = rotamer_peaks(mix)
    near = lambda c: np.abs(_wrap(peaks - np.array(c))).max(1).min()   # noqa: E731
    assert near((-65, 175)) < 15 and near((-177, 65)) < 15             # mt and tp, the two common ones
    s = mix.log_score(torch.as_tensor(peaks, dtype=torch.float32)).numpy()
    assert (s >= np.log(rotamer_tables.FAVORED)).all()


def _outliers(st, topo, xyz, priors) -> int:
    """Rotamer outliers: MolProbity's tables when present, else the prior's own outlier cut."""
    if top8000_dir() is not None:
        model = copy.deepcopy(st)
        topo.set_xyz(model, xyz)
        return rotamer_tables.rotamers(model).n_outliers
    from cryonb.restraints.torsion_priors import RotamerTerm
    term = RotamerTerm(topo, priors.rotamer)
    return sum(int((s < np.log(rotamer_tables.OUTLIER)).sum()) for _, _, s in term.scored(torch.as_tensor(xyz)))


def test_rebuild_restores_perturbed_chi1(adk, adk_map_25):
    st, topo, tree, xyz = adk
    priors = load_priors()
    chi1 = np.flatnonzero(tree.level == 1)
    names = np.array([topo.residues[k].name for k in tree.residue])
    # ten well-ordered side chains of the requested types: lowest mean B-factor of the moved atoms
    b = np.array([st[0][c][r][a].b_iso for c, r, a in topo.gemmi_index])
    cand = [j for j in chi1 if names[j] in PERTURBED_TYPES]
    picks = sorted(cand, key=lambda j: b[tree.moving[j][tree.moving[j] >= 0]].mean())[:10]
    delta = torch.zeros(tree.n, dtype=torch.float64)
    delta[picks] = np.radians(120.0)
    start = tree.apply(torch.as_tensor(xyz), delta).numpy()
    frozen = start.copy()

    result = rebuild_rotamers(topo, start, adk_map_25, RebuildConfig(threads=1), priors)

    assert np.array_equal(start, frozen)                               # input not modified
    err = chi_change(tree.chi_deg(torch.as_tensor(xyz)).numpy(), result.chi_after, chi_periods(topo, tree))
    restored = int((err[picks] < 30).sum())
    assert restored >= 8, f"only {restored}/10 chi1 restored: errors {np.round(err[picks])}"
    others = np.setdiff1d(chi1, picks)
    assert (err[others] > 30).mean() <= 0.03                           # right ones stay right
    labels = {topo.residue_label(int(tree.residue[j])) for j in picks}
    assert len(labels & set(result.changed)) >= 8
    assert _outliers(st, topo, result.xyz, priors) <= _outliers(st, topo, xyz, priors)
    d = np.linalg.norm(result.xyz - xyz, axis=1)
    assert d[~np.isin(np.arange(len(xyz)), tree.moved_atoms())].max() == 0   # only side chains move
    r = topo.restraints
    x_new, x_old = torch.as_tensor(result.xyz), torch.as_tensor(xyz)
    assert (distances(x_new, r.bonds) - distances(x_old, r.bonds)).abs().max() < 1e-4


def test_rebuild_rejects_bad_coordinates(adk, adk_map_25):
    _, topo, _, xyz = adk
    with pytest.raises(ModelError, match="shape"):
        rebuild_rotamers(topo, xyz[:-1], adk_map_25)
