"""The model's blur matched to each map (cryonb.refinement.blur)."""
from __future__ import annotations

import numpy as np
import pytest

from cryonb.data.other_simulators import _bfactor
from cryonb.density.simulate import SIGMA_PER_RESOLUTION, SimulationConfig, simulate_map
from cryonb.refinement.blur import match_blur, relative_b
from cryonb.refinement.gmm import ModelGMM, b_factors, spread_sigma
from cryonb.refinement.map_score import MapScore
from cryonb.refinement.pipeline import refine_topology
from cryonb.refinement.projection import MapProjections
from tests.models import first_residues

pytestmark = pytest.mark.usefixtures("one_thread")

R = 6.0


@pytest.fixture(scope="module")
def mobile(adk_closed):
    """AdK residues 1-60 with B-factors rising 10 -> 150 Å^2 along the chain (a mobile end)."""
    st = first_residues(adk_closed, 60)
    for k, res in enumerate(st[0][0]):
        for a in res:
            a.b_iso = 10.0 + 140.0 * k / 59
    topo = refine_topology(st)
    return st, topo, topo.xyz(st), b_factors(topo, st)


def _score(m, topo, xyz, b):
    proj = MapProjections.compute(m, R, 24, 0)
    return MapScore(proj, ModelGMM.from_topology(topo, xyz, R, b))


def test_a_map_with_the_models_b_factors_keeps_their_spread_and_one_without_drops_it(mobile):
    st, topo, xyz, b = mobile
    with_b = simulate_map(st, SimulationConfig(resolution=R, voxel_size=1.5))
    share, note = match_blur(_score(with_b, topo, xyz, b), xyz, b, SIGMA_PER_RESOLUTION * R, R)
    assert share >= 0.75 and "fits the map best" in note
    flat = st.clone()
    for a in (a for r in flat[0][0] for a in r):
        a.b_iso = 30.0
    without = simulate_map(flat, SimulationConfig(resolution=R, voxel_size=1.5), like=with_b)
    score = _score(without, topo, xyz, b)
    share, _ = match_blur(score, xyz, b, SIGMA_PER_RESOLUTION * R, R)
    assert share <= 0.25
    assert np.allclose(score.sigma.numpy(), spread_sigma(SIGMA_PER_RESOLUTION * R, b, share), rtol=1e-5)


def test_the_maps_global_b_relative_to_the_model_is_measured(mobile):
    st, topo, xyz, b = mobile
    m = simulate_map(st, SimulationConfig(resolution=R, voxel_size=1.5))
    blurred = m.copy(data=_bfactor(m.data.astype(np.float64), m, 100.0))
    import torch
    x = torch.as_tensor(xyz)
    values = []
    for one in (m, blurred):
        score = _score(one, topo, xyz, b)
        values.append(relative_b(score, x, score.all_orientations(), R))
    assert values[1] - values[0] == pytest.approx(100.0, abs=15.0)


def test_rings_are_weighed_by_their_signal_to_noise(mobile):
    import torch
    from cryonb.data.other_simulators import simulate_other
    st, topo, xyz, b = mobile
    clean = simulate_map(st, SimulationConfig(resolution=R, voxel_size=1.5))
    noisy = simulate_other(st, clean, R, "gemmi", seed=1)
    x = torch.as_tensor(xyz)
    per_coefficient = []
    for m in (clean, noisy):
        score = _score(m, topo, xyz, b)
        plain = float(score(x, score.all_orientations(), R))
        w = score.weigh_rings_by_snr(x, R)
        idx = score.rings(R).numpy()
        assert w[idx].mean() == pytest.approx(1.0)
        n = np.bincount(score.ring.numpy(), minlength=score.grid.n_rings)
        per_coefficient.append(w[idx] / n[idx])
        score.ring_weight = torch.ones(score.grid.n_rings)
        assert float(score(x, score.all_orientations(), R)) == pytest.approx(plain, abs=1e-6)
    # the clean map's rings are all near the clip, the noisy map's outer rings weigh far less
    assert per_coefficient[0][-1] / per_coefficient[0][0] > 0.5
    assert per_coefficient[1][-1] / per_coefficient[1][0] < 0.3
