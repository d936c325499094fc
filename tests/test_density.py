"""Map simulation, noise, half maps, FSC and grid changes, on AdK."""
import numpy as np
import pytest

from cryonb import density
from cryonb.io import model_xyz


@pytest.mark.parametrize("method", ["electron", "gaussian"])
@pytest.mark.parametrize("resolution", [3.0, 5.0, 8.0])
def test_model_map_fsc_crosses_half_at_requested_resolution(adk_closed, method, resolution):
    cfg = density.SimulationConfig(resolution=resolution, voxel_size=1.0, method=method)
    m = density.simulate_map(adk_closed, cfg)
    for snr in (None, 2.0):
        noisy = density.add_noise(m, snr, seed=1) if snr else m
        got = density.model_map_fsc(adk_closed, noisy).resolution(0.5)
        assert abs(got - resolution) <= 0.1 * resolution, (method, snr, got)


def test_half_map_fsc_falls_as_noise_rises(adk_map_4a):
    previous_res, previous_avg = 0.0, 1.0
    for snr in (10.0, 1.0, 0.1, 0.02):
        h1, h2 = density.half_maps(adk_map_4a, snr, seed=3)
        curve = density.fsc(h1, h2)
        res, avg = curve.resolution(0.143), curve.average(max_resolution=4.0)
        assert res >= previous_res and avg < previous_avg, (snr, res, avg)
        previous_res, previous_avg = res, avg
    assert previous_res > 6.0          # at SNR 0.02 the half maps agree only at low resolution


def test_noise_level_matches_requested_snr(adk_map_4a):
    noisy = density.add_noise(adk_map_4a, 0.5, seed=0)
    noise = noisy.data - adk_map_4a.data
    assert adk_map_4a.data.var() / noise.var() == pytest.approx(0.5, rel=0.02)
    h1, h2 = density.half_maps(adk_map_4a, 0.5, seed=0)
    full = density.average(h1, h2)
    assert adk_map_4a.data.var() / (full.data - adk_map_4a.data).var() == pytest.approx(0.5, rel=0.03)


def test_no_signal_beyond_resolution(adk_map_4a):
    s = density.frequency_grid(adk_map_4a.shape, adk_map_4a.voxel_size)
    power = np.abs(np.fft.rfftn(adk_map_4a.data)) ** 2
    assert power[s > 1 / 4.0 + 1e-6].sum() < 1e-8 * power.sum()


def test_electron_and_gaussian_maps_agree_and_sit_on_the_model(adk_closed, adk_map_4a):
    gauss = density.simulate_map(adk_closed, density.SimulationConfig(resolution=4.0, method="gaussian"))
    assert gauss.same_grid(adk_map_4a)
    assert np.corrcoef(gauss.data.ravel(), adk_map_4a.data.ravel())[0, 1] > 0.9
    # density at the atoms is far above the map average: the map is placed on the model
    idx = np.round(adk_map_4a.xyz_to_index(model_xyz(adk_closed))).astype(int)
    at_atoms = adk_map_4a.data[idx[:, 2], idx[:, 1], idx[:, 0]]
    assert at_atoms.mean() > adk_map_4a.data.mean() + 2 * adk_map_4a.data.std()


def test_simulate_on_given_grid_with_origin_and_non_cubic_box(adk_closed, adk_map_4a):
    grid = density.crop(adk_map_4a, (2, 4, 6), (60, 56, 52))
    assert not np.allclose(grid.origin, adk_map_4a.origin)
    m = density.simulate_map(adk_closed, density.SimulationConfig(resolution=4.0), like=grid)
    assert m.same_grid(grid)
    inner = adk_map_4a.data[2:62, 4:60, 6:58]
    assert np.corrcoef(m.data.ravel(), inner.ravel())[0, 1] > 0.99


def test_fsc_identical_maps_is_one_and_requires_same_grid(adk_map_4a):
    curve = density.fsc(adk_map_4a, adk_map_4a)
    keep = curve.frequency <= 0.9 / 4.0
    assert np.allclose(curve.fsc[keep][1:], 1.0, atol=1e-6)
    from cryonb.errors import GridMismatchError

    with pytest.raises(GridMismatchError, match="grids differ"):
        density.fsc(adk_map_4a, density.pad(adk_map_4a, (70, 70, 70)))


def test_fsc_resolution_interpolates_crossing():
    f = np.array([0.0, 0.1, 0.2, 0.3])
    curve = density.FSCCurve(f, np.array([1.0, 0.9, 0.7, 0.3]), np.ones(4))
    assert curve.resolution(0.5) == pytest.approx(1 / 0.25)
    assert curve.resolution(0.1) == pytest.approx(1 / 0.3)      # never crosses: last shell


def test_resample_preserves_density_and_position(adk_closed, adk_map_4a):
    coarse = density.resample(adk_map_4a, 1.5)
    assert np.allclose(coarse.voxel_size, 1.5) and np.allclose(coarse.origin, adk_map_4a.origin)
    assert np.allclose(coarse.box_size, adk_map_4a.box_size, atol=1.5)
    direct = density.simulate_map(adk_closed, density.SimulationConfig(resolution=4.0), like=coarse)
    assert np.corrcoef(coarse.data.ravel(), direct.data.ravel())[0, 1] > 0.98
    back = density.resample(coarse, 1.0, shape=adk_map_4a.shape)
    assert np.corrcoef(back.data.ravel(), adk_map_4a.data.ravel())[0, 1] > 0.98


def test_crop_pad_round_trip(adk_closed, adk_map_4a):
    small = density.crop_to_model(adk_map_4a, adk_closed, padding=3.0)
    assert all(a < b for a, b in zip(small.shape, adk_map_4a.shape))
    assert small.contains(model_xyz(adk_closed)).all()
    big = density.pad(small, adk_map_4a.shape)
    assert big.shape == adk_map_4a.shape
    # the padded map's voxels sit on the original lattice and carry the original values there
    shift = np.round((small.origin - big.origin) / big.voxel_size).astype(int)[::-1]
    z, y, x = shift
    nz, ny, nx = small.shape
    assert np.array_equal(big.data[z:z + nz, y:y + ny, x:x + nx], small.data)
    with pytest.raises(ValueError):
        density.crop(adk_map_4a, (0, 0, 0), (1000, 1, 1))


def test_resolution_below_nyquist_rejected(adk_closed):
    with pytest.raises(ValueError, match="Nyquist"):
        density.simulate_map(adk_closed, density.SimulationConfig(resolution=1.5, voxel_size=1.0))


def test_non_cubic_voxels_fsc(adk_closed):
    grid = density.box_around_model(adk_closed, 1.2, cubic=False)
    m = density.simulate_map(adk_closed, density.SimulationConfig(resolution=5.0), like=grid)
    assert len(set(m.shape)) > 1
    got = density.model_map_fsc(adk_closed, density.add_noise(m, 2.0)).resolution(0.5)
    assert abs(got - 5.0) <= 0.5
