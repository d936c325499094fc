"""Peaks to atoms (the seed's greedy picking with 3.3 Å exclusion) and the seed's CRscore."""
import numpy as np
import pytest
from scipy.spatial.distance import pdist

from cryonb.cnn.peaks import ca_structure, naive_atoms, pick_atoms
from cryonb.cnn.score import ca_score, greedy_pairs, tm_d0
from cryonb.maps import Map


def lattice_map(values: list[float], spacing: int = 5, shape=(40, 40, 40)) -> Map:
    """Single-voxel peaks of the given values on a lattice ``spacing`` voxels apart, 0 elsewhere."""
    data = np.zeros(shape, np.float32)
    axis = range(3, 38, spacing)
    sites = [(z, y, x) for z in axis for y in axis for x in axis]
    for v, site in zip(values, sites):
        data[site] = v
    return Map(data, 1.0)


@pytest.mark.parametrize("values, length, expected", [
    ([0.95] * 12, 10, 12),                  # above 0.9: on to 1.2 L
    ([0.95] * 20, 10, 12),                  # never beyond 1.2 L
    ([0.95] * 11 + [0.85] * 5, 10, 11),     # stop at the first value not above 0.9
    ([0.99] * 5, 10, 10),                   # at least L, even from the background
    ([0.95] * 30, 24, 28),                  # floor(1.2 x 24) = 28
])
def test_count_rules(values, length, expected):
    peaks = pick_atoms(lattice_map(values), length, refine=False)
    assert len(peaks.xyz) == expected
    assert np.all(np.diff(peaks.value) <= 0)                       # highest first
    assert naive_atoms(lattice_map(values), length).xyz.shape == (length, 3)


def test_exclusion_radius_and_greedy_order():
    m = Map(np.random.default_rng(0).random((24, 24, 24)).astype(np.float32), 1.2)
    peaks = pick_atoms(m, 150, refine=False)
    assert len(peaks.xyz) >= 150
    assert pdist(peaks.xyz).min() >= 3.3 - 1e-9
    assert peaks.value[0] == m.data.max()
    # every voxel farther than 3.3 Å from all picks but the last scores no higher than the last pick
    centres = np.stack(np.meshgrid(*[np.arange(24)] * 3, indexing="ij"), -1).reshape(-1, 3)[:, ::-1] * 1.2
    free = np.all(np.linalg.norm(centres[:, None] - peaks.xyz[None, :-1], axis=-1) >= 3.3, axis=1)
    assert m.data.reshape(-1)[free].max() == peaks.value[-1]


def test_voxels_to_angstrom_and_subvoxel_centroid():
    data = np.zeros((10, 12, 14), np.float32)
    data[3, 5, 7] = 1.0
    data[3, 5, 8] = 0.5                                  # pulls the centroid a third of a voxel along x
    m = Map(data, voxel_size=(1.2, 1.5, 1.0), origin=(10.0, 20.0, 30.0))
    plain = pick_atoms(m, 1, refine=False)
    assert plain.xyz[0].tolist() == pytest.approx([10 + 7 * 1.2, 20 + 5 * 1.5, 30 + 3 * 1.0])
    refined = pick_atoms(m, 1)
    assert refined.xyz[0].tolist() == pytest.approx([10 + (7 + 1 / 3) * 1.2, 27.5, 33.0])


def test_ca_structure_holds_the_atoms():
    peaks = pick_atoms(lattice_map([0.95, 0.5, 0.3]), 3, refine=False)
    st = ca_structure(peaks)
    atoms = [(r.name, r.seqid.num, a.name, a.b_iso) for r in st[0]["A"] for a in r]
    assert atoms == [("UNK", 1, "CA", pytest.approx(95)), ("UNK", 2, "CA", pytest.approx(50)),
                     ("UNK", 3, "CA", pytest.approx(30))]


def grid_atoms(n: int, spacing: float = 10.0) -> np.ndarray:
    return np.array([(i % 4, (i // 4) % 4, i // 16) for i in range(n)], float) * spacing


def test_d0_is_the_tm_score_scale():
    assert tm_d0(100) == pytest.approx(1.24 * 85 ** (1 / 3) - 1.8)
    assert tm_d0(10) == 0.5 and tm_d0(19) == 0.5


def test_perfect_prediction_scores_one():
    true = grid_atoms(30)
    s = ca_score(true[::-1], true)
    assert (s.crscore, s.recall, s.precision, s.rmsd, s.n_close) == (1.0, 1.0, 1.0, 0.0, 30)


def test_a_shift_of_d_gives_the_analytic_score():
    true = grid_atoms(40)
    for d in (0.5, 2.0, 4.0):
        s = ca_score(true + np.array([0.0, d, 0.0]), true)
        assert s.crscore == pytest.approx(1 / (1 + (d / tm_d0(40)) ** 2))
        assert s.rmsd == pytest.approx(d) and s.recall == s.precision == (1.0 if d < 3 else 0.0)


def test_extra_and_missing_atoms():
    true = grid_atoms(40)
    extra = ca_score(np.vstack([true, true[:10] + 100.0]), true)
    assert (extra.crscore, extra.recall, extra.precision) == (1.0, 1.0, pytest.approx(40 / 50))
    missing = ca_score(true[:30], true)
    assert (missing.crscore, missing.recall, missing.precision) == (pytest.approx(0.75), 0.75, 1.0)
    mixed = ca_score(np.vstack([true[:20] + [1.0, 0, 0], true[20:] + [0, 0, 4.0]]), true, length=50)
    assert mixed.recall == 0.5 and mixed.precision == 0.5 and mixed.rmsd_close == pytest.approx(1.0)
    d0 = tm_d0(50)
    assert mixed.crscore == pytest.approx((20 / (1 + (1 / d0) ** 2) + 20 / (1 + (4 / d0) ** 2)) / 50)


def test_pairing_is_greedy_closest_first_and_one_to_one():
    true = np.array([[0.0, 0, 0], [2.0, 0, 0]])
    predicted = np.array([[1.1, 0, 0], [3.5, 0, 0]])
    i, j, d = greedy_pairs(predicted, true)
    assert (i.tolist(), j.tolist()) == ([0, 1], [1, 0]) and d.tolist() == pytest.approx([0.9, 3.5])
    assert ca_score(np.zeros((0, 3)), true).crscore == 0.0
