"""Assembly building blocks: C-alpha energy and moves, replica exchange, SPICKER, eTM and local confidence."""
from __future__ import annotations

import numpy as np
import pytest

from cryonb.assembly.ca_geometry import bonds
from cryonb.assembly.energy import Energy, Weights, em_lookup, load_potential
from cryonb.assembly.moves import MOVES
from cryonb.assembly.quality import confidence, etm_scores, local_confidence, local_pcc, model_tm_matrix
from cryonb.assembly.remc import RemcConfig, run_remc
from cryonb.assembly.spicker import choose_cutoff, pairwise_rmsd, spicker
from cryonb.io import calpha
from cryonb.maps import Map
from cryonb.sequence import ONE_LETTER
from cryonb.superpose import rmsd, superpose
from cryonb.templates.density import model_density


@pytest.fixture(scope="module")
def adk():
    from cryonb.data.adk import adk_closed, adk_open
    closed, opened = adk_closed(), adk_open()
    keys, xc = calpha(closed)
    sequence = "".join(ONE_LETTER[closed[0][c][n][0].name] for c, n in keys)
    return sequence, xc, superpose(calpha(opened)[1], xc)


def _walk(n: int, rng: np.random.Generator) -> np.ndarray:
    steps = rng.normal(size=(n - 1, 3))
    steps *= 3.8 / np.linalg.norm(steps, axis=1, keepdims=True)
    return np.vstack([np.zeros(3), np.cumsum(steps, 0)])


# ----------------------------------------------------------------------------- SPICKER
def test_pairwise_rmsd_is_the_superposed_rmsd():
    rng = np.random.default_rng(1)
    decoys = rng.normal(0, 6, (7, 40, 3))
    table = pairwise_rmsd(decoys)
    for a, b in [(0, 1), (2, 6), (5, 3)]:
        assert table[a, b] == pytest.approx(rmsd(superpose(decoys[a], decoys[b]), decoys[b]), abs=1e-6)
    assert np.allclose(table, table.T) and np.all(np.diag(table) == 0)


def test_spicker_finds_the_populated_state_and_its_mean():
    rng = np.random.default_rng(2)
    base, other = _walk(60, rng), _walk(60, rng)
    rot = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    decoys = np.stack([base @ rot.T + rng.normal(0, 0.6, base.shape) + 10 for _ in range(40)]
                      + [other + rng.normal(0, 0.6, base.shape) for _ in range(15)]
                      + [_walk(60, rng) for _ in range(5)])
    result = spicker(decoys)
    first = result.clusters[0]
    assert first.size == 40 and set(first.members) == set(range(40))
    assert result.clusters[1].size == 15
    # the combo averages out the noise: closer to the truth than any member
    assert rmsd(superpose(first.combo, base), base) < 0.3
    assert first.closc in first.members
    assert result.cutoff == 3.5


def test_cutoff_grows_until_a_cluster_holds_fifteen_percent():
    rng = np.random.default_rng(3)
    spread = np.stack([_walk(50, rng) for _ in range(20)])
    table = pairwise_rmsd(spread)
    cut = choose_cutoff(table)
    assert cut > 3.5
    largest = (table <= cut).sum(1).max() / len(table)
    below = (table <= cut - 0.5).sum(1).max() / len(table)
    assert largest >= 0.15 or cut == 12.0
    assert below < 0.15


# ----------------------------------------------------------------------------- quality
def test_etm_follows_equation_8():
    tm = np.array([[1.0, 0.6, 0.4], [0.6, 1.0, 0.5], [0.4, 0.5, 1.0]])
    conf = np.array([0.9, 0.2, 0.5])
    got = etm_scores(tm, conf)
    assert got[0] == pytest.approx(0.18 + 0.82 * 0.9)
    assert got[1] == pytest.approx(0.18 + 0.82 * max(0.2, 0.6 - 0.05, 0.5 - 0.25))
    c = confidence([0.8, 0.8], [100, 10], [2.0, 2.0], 200)
    assert c[0] > c[1] and c[0] == pytest.approx(0.8 / (1 + 0.05 * 200 * 2.0 / 100))


def test_local_pcc_drops_where_the_model_leaves_the_density(adk):
    _, xc, _ = adk
    grid = Map(np.zeros((64, 64, 64), np.float32), np.full(3, 1.2), origin=xc.mean(0) - 38)
    m = grid.copy(data=model_density(grid, xc, 4.0))
    moved = xc.copy()
    moved[100:110] += [0.0, 0.0, 5.0]
    good, bad = local_pcc(m, xc, 4.0), local_pcc(m, moved, 4.0)
    assert np.nanmedian(good) > 0.9
    assert np.nanmean(bad[100:110]) < np.nanmean(good[100:110]) - 0.3
    assert np.nanmean(np.abs(bad[:90] - good[:90])) < 0.05


def test_local_confidence_averages_to_etm_and_marks_disagreement(adk):
    _, xc, xo = adk
    models = np.stack([xc, xc + np.random.default_rng(4).normal(0, 0.3, xc.shape), xo])
    tm, dist = model_tm_matrix(models)
    assert tm[0, 1] > 0.95 and tm[0, 2] < tm[0, 1]
    etm = np.array([0.8, 0.7, 0.5])
    lc = local_confidence(np.full((3, len(xc)), 0.7), etm, dist)
    assert np.allclose(lc.mean(axis=1), etm)
    moving = dist[0, 2] > 5.0                      # the LID and NMP domains between closed and open
    assert moving.sum() > 20
    assert lc[0][moving].mean() < lc[0][~moving].mean()


# ----------------------------------------------------------------------------- energy and moves
def test_potential_prefers_a_real_chain_to_a_random_walk(adk):
    sequence, xc, _ = adk
    e = Energy(sequence, Weights(em=0.0))
    walk = _walk(len(xc), np.random.default_rng(5))
    native, random = e.parts(xc[None])[0], e.parts(walk[None])[0]
    assert native[0] < random[0] - 100          # local: angles and dihedrals
    assert native[0] + native[1] < random[0] + random[1]
    assert load_potential()["bond_mean"] == pytest.approx(3.80, abs=0.02)


@pytest.mark.parametrize("name", sorted(MOVES))
def test_move_energy_change_is_exact_and_moves_are_rigid(adk, name):
    sequence, xc, xo = adk
    rng = np.random.default_rng(6)
    grid = Map(np.zeros((56, 56, 56), np.float32), np.full(3, 1.5), origin=xc.mean(0) - 42)
    m = grid.copy(data=model_density(grid, xc, 6.0))
    dist = np.linalg.norm(xo[:, None] - xo[None], axis=-1)
    e = Energy(sequence, Weights(cnn=0.0), em=em_lookup(m, 6.0, xc), restraint_distance=dist,
               restraint_weight=(dist < 10).astype(float) * 0.1)
    x = np.stack([xc, xo, xc + rng.normal(0, 0.2, xc.shape)])
    for k in (1, 3, 20):
        start, new = MOVES[name](x, k, rng)
        after = x.copy()
        after[np.arange(3)[:, None], start[:, None] + np.arange(k)] = new
        assert np.allclose(e.delta(x, new, start, k), e.total(after) - e.total(x), atol=1e-8)
        inner = [pairwise_rmsd(np.stack([x[r, start[r]:start[r] + k], new[r]]))[0, 1] for r in range(3)]
        assert max(inner) < 1e-6                   # the segment moves as a rigid body
        if name != "shift":                        # turns about flanking atoms keep every bond
            assert np.allclose(bonds(after), bonds(x), atol=1e-9)


# ----------------------------------------------------------------------------- replica exchange
def test_remc_closes_adk_open_into_the_closed_map_and_resumes(adk, tmp_path):
    from cryonb.data.adk import adk_closed
    from cryonb.data.examples import example_map
    sequence, xc, xo = adk
    m = example_map(adk_closed(), 6.0, voxel_size=1.5)
    e = Energy(sequence, Weights(), em=em_lookup(m, 6.0, xo))
    config = RemcConfig(steps=1200, sample_every=100, checkpoint_every=600, seed=3)
    starts = np.repeat(xo[None], 6, 0)
    state = run_remc(e, starts, config)
    before = rmsd(xo, xc)
    after = rmsd(superpose(state.x[0], xc), xc)
    assert after < before - 1.5, (before, after)
    assert np.allclose(e.total(state.x), state.energy, atol=1e-6)
    # an interrupted run resumes to the same end
    ck = tmp_path / "remc.npz"
    run_remc(e, starts, RemcConfig(steps=600, sample_every=100, checkpoint_every=600, seed=3), checkpoint=ck)
    resumed = run_remc(e, starts, config, checkpoint=ck)
    assert np.allclose(resumed.x, state.x) and len(resumed.decoys) == len(state.decoys)


# ----------------------------------------------------------------------------- full atoms
def test_pulchra_model_keeps_the_calphas_and_does_not_collapse_the_ends(adk):
    from cryonb.assembly.full_atom import pulchra_model
    sequence, xc, _ = adk
    st = pulchra_model(xc[:40], sequence[:40])
    residues = list(st[0][0])
    assert len(residues) == 40 and residues[0].name == "MET" and residues[0].seqid.num == 1
    assert np.abs(calpha(st)[1] - xc[:40]).max() < 1e-3
    for res in (residues[0], residues[-1]):                 # PULCHRA alone puts Met1's CE 0.1 Å from its CA
        ca = res["CA"][0].pos
        others = [a.pos.dist(ca) for a in res if a.name != "CA"]
        assert min(others) > 1.2, (res.name, others)
    assert len(residues[0]) == 8                            # N CA C O CB CG SD CE
