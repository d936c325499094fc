"""Training data of the C-alpha network: the structure split, simulated samples, labels, patches."""
import json

import numpy as np
import pytest
from scipy.spatial.distance import pdist

from cryonb.cnn.dataset import (HELD_OUT, DataConfig, ca_xyz, draw_resolution, load_structure, make_sample,
                                random_patch, rotated, split_structures, structure_names, training_batch)


@pytest.fixture(scope="module")
def small():
    return load_structure("3a4rA")          # 79 residues, the smallest corpus chain


def test_structure_names_are_the_dssp_chains_and_adk():
    names = structure_names()
    assert len(names) == 52 and names[-2:] == list(HELD_OUT) and len(set(names)) == 52


def test_split_holds_out_adk_and_five_chains_deterministically():
    names = structure_names()
    split = split_structures(names, seed=3, n_val=5, n_test=5)
    assert set(HELD_OUT) <= set(split.test)
    assert not (set(split.train) | set(split.val)) & set(split.test)
    assert not set(split.train) & set(split.val)
    assert sorted(split.train + split.val + split.test) == sorted(names)
    assert len(set(split.test) - set(HELD_OUT)) == 5 and len(split.val) == 5
    assert split_structures(names, seed=3) == split
    assert split_structures(names, seed=4).test != split.test
    assert json.loads(json.dumps(split.as_dict()))["test"] == split.test
    with pytest.raises(ValueError, match="at least 5"):
        split_structures(names, n_test=4)


def test_rotation_is_rigid_and_random(small):
    rng = np.random.default_rng(0)
    a, b = rotated(small, rng), rotated(small, rng)
    ca, ca_a, ca_b = ca_xyz(small), ca_xyz(a), ca_xyz(b)
    assert len(ca) == 79
    assert np.allclose(pdist(ca), pdist(ca_a), atol=1e-3) and np.allclose(pdist(ca), pdist(ca_b), atol=1e-3)
    assert np.abs(ca_a - ca_b).max() > 5


@pytest.mark.parametrize("resolution", [2.0, 6.0])   # 2 Å is finer than the 1.5 Å grid's Nyquist limit
def test_sample_labels_every_ca_and_follow_the_density(small, resolution):
    cfg = DataConfig(snr_range=(5.0, 5.0))
    s = make_sample(small, cfg, np.random.default_rng(1), resolution=resolution, min_edge=40)
    assert min(s.map.shape) >= 40 and s.labels.shape == s.map.shape and s.labels.dtype == np.int64
    assert abs(float(s.map.data.mean())) < 1e-4 and abs(float(s.map.data.std()) - 1) < 1e-3
    assert s.map.contains(s.ca).all() and s.snr == 5.0 and s.resolution == resolution
    nearest = np.round(s.map.xyz_to_index(s.ca)).astype(int)          # x, y, z
    assert (s.labels[nearest[:, 2], nearest[:, 1], nearest[:, 0]] == 1).all()
    per_ca = s.labels.sum() / len(s.ca)     # sphere of 1.6 Å: 17.2 Å^3 = 5.1 voxels of 1.5 Å
    assert 3.5 < per_ca < 6.5
    assert 0.001 < s.labels.mean() < 0.02
    assert s.map.data[s.labels == 1].mean() > s.map.data[s.labels == 0].mean() + 2


def test_samples_reproducible_from_a_seed(small):
    cfg = DataConfig()
    a = make_sample(small, cfg, np.random.default_rng(7))
    b = make_sample(small, cfg, np.random.default_rng(7))
    assert np.array_equal(a.map.data, b.map.data) and np.array_equal(a.labels, b.labels)
    assert a.resolution == b.resolution and 2.0 <= a.resolution <= 10.0 and 0.5 <= a.snr <= 20


def test_linear_weighting_draws_more_coarse_maps():
    def draws(weighting):
        cfg = DataConfig(resolution_range=(2.0, 10.0), resolution_weighting=weighting)
        rng = np.random.default_rng(0)
        return np.array([draw_resolution(cfg, rng) for _ in range(4000)])
    uniform, linear = draws("uniform"), draws("linear")
    assert 2.0 <= linear.min() and linear.max() <= 10.0
    assert abs((uniform > 6).mean() - 0.5) < 0.03             # uniform: half above 6 Å
    assert abs((linear > 6).mean() - 64 / 96) < 0.03          # p(r) ~ r: (10² - 6²) / (10² - 2²)
    with pytest.raises(ValueError, match="resolution_weighting"):
        DataConfig(resolution_weighting="log")


def test_config_refuses_a_label_radius_that_misses_voxels():
    with pytest.raises(ValueError, match="half-diagonal"):
        DataConfig(voxel_size=1.5, label_radius=1.2)


def test_patches_hold_protein_and_match_the_sample(small):
    rng = np.random.default_rng(2)
    s = make_sample(small, DataConfig(), rng, min_edge=32)
    density, labels = random_patch(s, 24, rng)
    assert density.shape == labels.shape == (24, 24, 24) and labels.sum() > 0
    x, y = training_batch({"3a4rA": small}, DataConfig(), 24, 2, rng)
    assert x.shape == (2, 1, 24, 24, 24) and x.dtype == np.float32
    assert y.shape == (2, 24, 24, 24) and y.dtype == np.int64 and y.sum() > 0
