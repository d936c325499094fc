"""Shared fixtures: real example structures, simulated maps, and mrcfile's real EMDB maps."""
from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from cryonb import data, density

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's tests (use with ``pytestmark = pytest.mark.usefixtures``)."""
    from cryonb.torch_utils import torch_threads
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def adk_closed():
    return data.adk_closed()


@pytest.fixture(scope="session")
def adk_open():
    return data.adk_open()


@pytest.fixture(scope="session")
def adk_map_4a(adk_closed):
    """AdK closed simulated at 4 Å on 1 Å voxels, no noise."""
    return density.simulate_map(adk_closed, density.SimulationConfig(resolution=4.0, voxel_size=1.0))


@pytest.fixture(scope="session")
def emd_3197():
    """Path of EMD-3197 (a 20^3 subtomogram average, P1, nxstart -2) from mrcfile's sdist."""
    return data.mrcfile_test_map("EMD-3197.map")


@pytest.fixture(scope="session")
def emd_3001():
    """Path of EMD-3001 (MicroED, P21, axis order 3,1,2, non-cubic voxels) from mrcfile's sdist."""
    return data.mrcfile_test_map("EMD-3001.map")


@pytest.fixture
def quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield
