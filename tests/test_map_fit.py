"""Model-to-map fit metrics (CC_mask, Q-score, model-map FSC) on AdK and simulated maps."""
import gemmi
import numpy as np
import pytest

from cryonb import density
from cryonb.errors import ModelError, OverlapError
from cryonb.io import model_xyz, set_model_xyz
from cryonb.maps import Map
from cryonb.validation import map_fit

RESOLUTIONS = {2.5: 0.8, 4.0: 1.0, 8.0: 2.0}      # resolution Å -> voxel size Å


@pytest.fixture(scope="module")
def adk_maps(adk_closed):
    """Noise-free AdK (closed) maps at 2.5, 4 and 8 Å."""
    return {res: density.simulate_map(adk_closed, density.SimulationConfig(resolution=res, voxel_size=vs))
            for res, vs in RESOLUTIONS.items()}


def _moved(st: gemmi.Structure, xyz: np.ndarray) -> gemmi.Structure:
    out = st.clone()
    set_model_xyz(out, xyz)
    return out


def _jittered(st: gemmi.Structure, rms: float, seed: int = 0, atoms: np.ndarray | None = None):
    """``st`` with random displacements of RMS length ``rms`` Å (all atoms, or those in ``atoms``)."""
    xyz = model_xyz(st)
    step = np.random.default_rng(seed).normal(0.0, rms / np.sqrt(3), xyz.shape)
    if atoms is not None:
        step[~atoms] = 0.0
    return _moved(st, xyz + step)


def _lone_atoms(positions, element="C") -> gemmi.Structure:
    """A model of single-atom residues at ``positions`` (Å)."""
    st = gemmi.Structure()
    model = gemmi.Model("1")
    chain = gemmi.Chain("A")
    for i, p in enumerate(positions):
        res = gemmi.Residue()
        res.name, res.seqid = "UNK", gemmi.SeqId(i + 1, " ")
        atom = gemmi.Atom()
        atom.name, atom.element, atom.b_iso = element, gemmi.Element(element), 20.0
        atom.pos = gemmi.Position(*p)
        res.add_atom(atom)
        chain.add_residue(res)
    model.add_chain(chain)
    st.add_model(model)
    return st


# ----------------------------------------------------------------------------- Q-score
def test_qscore_falls_with_resolution_and_noise(adk_closed, adk_maps):
    clean = {res: map_fit.qscore(adk_closed, m).overall for res, m in adk_maps.items()}
    assert 0.65 < clean[2.5] < 0.95          # Pintilie: ~0.7-0.8 at 2-3 Å (real maps lower)
    assert 0.45 < clean[4.0] < clean[2.5] - 0.1
    assert clean[8.0] < min(0.4, clean[4.0] - 0.2)
    for res, m in adk_maps.items():
        noisy = map_fit.qscore(adk_closed, density.add_noise(m, 0.1, seed=1)).overall
        assert noisy < clean[res] - 0.1, (res, clean[res], noisy)


@pytest.mark.parametrize("res", [2.5, 4.0])
def test_qscore_and_cc_mask_drop_for_misplaced_model(adk_closed, adk_maps, res):
    m = adk_maps[res]
    good_q, good_cc = map_fit.qscore(adk_closed, m).overall, map_fit.cc_mask(adk_closed, m, res)
    shifted = _moved(adk_closed, model_xyz(adk_closed) + [2.0, 0.0, 0.0])
    jittered = _jittered(adk_closed, 1.0)
    for bad, drop in ((shifted, 0.3), (jittered, 0.05)):
        q, cc = map_fit.qscore(bad, m).overall, map_fit.cc_mask(bad, m, res)
        assert q < good_q - drop and cc < good_cc - drop, (res, good_q, q, good_cc, cc)


def test_per_residue_q_points_at_the_perturbed_residues(adk_closed, adk_maps):
    seq = np.array([r.seqid.num for ch in adk_closed[0] for r in ch for _ in r])
    bad = map_fit.qscore(_jittered(adk_closed, 1.0, seed=3, atoms=seq <= 60), adk_maps[2.5])
    q = bad.residue_q
    assert len(bad.residues) == 214 and bad.residues[0].chain == "A" and bad.residues[0].seqid == "1"
    assert q[:60].mean() < q[60:].mean() - 0.15
    first = bad.atoms.residue == 0
    assert bad.residues[0].q == pytest.approx(bad.atom_q[first].mean())
    assert bad.overall == pytest.approx(np.nanmean(bad.atom_q))


def test_qscore_of_an_ideal_gaussian_atom_is_one_and_of_a_hole_is_negative():
    grid = np.arange(40) * 0.2 - 3.9                              # 0.2 Å voxels around 0
    z, y, x = np.meshgrid(grid, grid, grid, indexing="ij")
    blob = np.exp(-(x ** 2 + y ** 2 + z ** 2) / (2 * 0.6 ** 2))
    st = _lone_atoms([(0.0, 0.0, 0.0)])
    for data, lo, hi in ((blob, 0.99, 1.0), (-blob, -1.0, -0.99)):
        q = map_fit.qscore(st, Map(data, 0.2, (-3.9, -3.9, -3.9)))
        assert lo <= q.overall <= hi and q.reference[0] > 0


def test_shell_points_keep_clear_of_other_atoms(adk_closed):
    xyz = map_fit.heavy_atoms(adk_closed).xyz
    offset, offset2 = map_fit._neighbours(xyz, 3.8)
    for r in (0.5, 1.5, 2.0):
        pts, owner = map_fit._shell_points(xyz, offset, offset2, r, 8, 50)
        assert np.allclose(np.linalg.norm(pts - xyz[owner], axis=1), r)
        count = np.bincount(owner, minlength=len(xyz))
        assert np.all((count >= 8) | (count == 0)) and (count == 0).mean() < 0.01
        nearest, _ = map_fit.cKDTree(xyz).query(pts)            # the owner is 1 r away
        assert nearest.min() >= 0.9 * r - 1e-9


def test_sphere_points_are_spread_on_the_unit_sphere():
    for n in (8, 30, 106):
        p = map_fit.sphere_points(n)
        assert p.shape == (n, 3) and np.allclose(np.linalg.norm(p, axis=1), 1.0)
        gaps = np.linalg.norm(p[:, None] - p[None], axis=-1) + 3 * np.eye(n)
        assert gaps.min() > 1.5 / np.sqrt(n)                      # no clumps
        assert np.linalg.norm(p.mean(0)) < 0.1                    # no side left empty


# ----------------------------------------------------------------------------- CC_mask
def test_molecular_mask_shrinks_probe_surface_and_fills_crevices():
    m = Map(np.zeros((60, 60, 80), np.float32), 0.2, (-6.0, -6.0, -6.0))
    lone = map_fit.molecular_mask(_lone_atoms([(0.0, 0.0, 0.0)]), m)
    expected = 4 / 3 * np.pi * (1.775 + 1.1 - 0.9) ** 3           # C vdW + solvent - shrink, Å^3
    assert lone.sum() * 0.2 ** 3 == pytest.approx(expected, rel=0.08)
    pair = map_fit.molecular_mask(_lone_atoms([(0.0, 0.0, 0.0), (3.6, 0.0, 0.0)]), m)
    mid = np.round(m.xyz_to_index([[1.8, 0.0, 0.0]])[0]).astype(int)
    assert pair[mid[2], mid[1], mid[0]]                          # 1.8 Å from both: beyond vdW, kept
    out = np.round(m.xyz_to_index([[-2.2, 0.0, 0.0]])[0]).astype(int)
    assert not pair[out[2], out[1], out[0]]                      # 2.2 Å out on the open side


def test_cc_mask_prefers_the_right_protein(adk_closed, adk_open, adk_maps):
    m = adk_maps[4.0]
    right, wrong = map_fit.cc_mask(adk_closed, m, 4.0), map_fit.cc_mask(adk_open, m, 4.0)
    assert right > 0.95 and wrong < right - 0.4, (right, wrong)


# ----------------------------------------------------------------------------- all three
def test_map_fit_metrics_fsc_near_simulated_resolution(adk_closed, adk_maps):
    for res, m in adk_maps.items():
        out = map_fit.map_fit_metrics(adk_closed, m, res)
        assert abs(out["fsc05_resolution"] - res) <= 0.05 * res, (res, out["fsc05_resolution"])
        assert out["fsc_curve"].resolution(0.5) == out["fsc05_resolution"]
        assert out["cc_mask"] > 0.95 and out["qscore"] == out["qscore_result"].overall
        assert len(out["qscore_residues"]) == 214


def test_bad_inputs_raise_cryonb_errors(adk_closed, adk_maps):
    m = adk_maps[8.0]
    far = _moved(adk_closed, model_xyz(adk_closed) + 500.0)
    for call in (lambda: map_fit.qscore(far, m), lambda: map_fit.cc_mask(far, m, 8.0),
                 lambda: map_fit.map_fit_metrics(far, m, 8.0)):
        with pytest.raises(OverlapError, match="inside the map box"):
            call()
    empty = gemmi.Structure()
    empty.add_model(gemmi.Model("1"))
    with pytest.raises(ModelError, match="no atoms"):
        map_fit.map_fit_metrics(empty, m, 8.0)
    with pytest.raises(ValueError, match="positive"):
        map_fit.cc_mask(adk_closed, m, 0.0)
