"""The benchmark maps made by other simulators' conventions (cryonb.data.other_simulators)."""
from __future__ import annotations

import gemmi
import numpy as np
import pytest

from cryonb.data.other_simulators import SHELL_SNR, SIMULATORS, simulate_other
from cryonb.density.filters import frequency_grid
from cryonb.density.simulate import box_around_model
from cryonb.maps import Map


def _shell_power(data: np.ndarray, m: Map, lo: float, hi: float) -> float:
    s = frequency_grid(data.shape, m.voxel_size)
    shell = (s >= lo) & (s < hi)
    return float((np.abs(np.fft.rfftn(data)[shell]) ** 2).mean())


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_noise_makes_the_map_as_noisy_at_its_resolution_as_an_experimental_one(adk_closed, simulator):
    grid = box_around_model(adk_closed, 1.5)
    clean = simulate_other(adk_closed, grid, 8.0, simulator, noise=False)
    noisy = simulate_other(adk_closed, grid, 8.0, simulator, seed=3)
    noise = noisy.data.astype(np.float64) - clean.data
    ratio = _shell_power(clean.data, grid, 0.9 / 8, 1 / 8) / _shell_power(noise, grid, 0.9 / 8, 1 / 8)
    assert ratio == pytest.approx(SHELL_SNR, rel=0.02)
    low = _shell_power(clean.data, grid, 1 / 30, 1 / 20) / _shell_power(noise, grid, 1 / 30, 1 / 20)
    assert low > 3 * SHELL_SNR                       # cleaner at low resolution, as a real map is
    beyond = _shell_power(noisy.data, grid, 1.2 / 8, 1.5 / 8) / _shell_power(noisy.data, grid, 0.5 / 8, 0.7 / 8)
    assert beyond < 1e-2                             # filtered at the resolution, noise included (a
    # Butterworth of order 8 still passes 23 % of the amplitude at 1.2 / R)
    again = simulate_other(adk_closed, grid, 8.0, simulator, seed=3)
    assert np.array_equal(again.data, noisy.data)


def test_eq2_is_crtasser_gaussians_of_atomic_number_and_width_r_over_sqrt2_pi():
    st = gemmi.Structure()
    model = gemmi.Model("1")
    chain = gemmi.Chain("A")
    res = gemmi.Residue()
    res.name, res.seqid = "GLY", gemmi.SeqId(1, " ")
    atom = gemmi.Atom()
    atom.name, atom.element, atom.pos = "CA", gemmi.Element("C"), gemmi.Position(15.0, 15.0, 15.0)
    res.add_atom(atom)
    chain.add_residue(res)
    model.add_chain(chain)
    st.add_model(model)
    grid = Map(np.zeros((20, 20, 20), np.float32), 1.5, np.zeros(3))
    from cryonb.data.other_simulators import _eq2_density
    data = _eq2_density(st, grid, 8.0)
    sigma = 8.0 / (np.sqrt(2) * np.pi)
    assert data[10, 10, 10] == pytest.approx(6 / np.sqrt(2 * np.pi * sigma ** 2), rel=1e-6)
    assert data[10, 10, 12] / data[10, 10, 10] == pytest.approx(np.exp(-3.0 ** 2 / (2 * sigma ** 2)), rel=1e-6)


def test_an_unknown_simulator_is_refused(adk_closed):
    with pytest.raises(ValueError, match="unknown simulator 'chimera'"):
        simulate_other(adk_closed, box_around_model(adk_closed, 2.0), 8.0, "chimera")
