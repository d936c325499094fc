"""The seed's 3D residual network and sliding-window inference over maps of any size."""
import numpy as np
import pytest
import torch

from cryonb.cnn.inference import axis_weights, predict_probability, sliding_window, window_starts
from cryonb.cnn.network import NetworkConfig, ResidualNetwork, count_parameters, receptive_radius
from cryonb.maps import Map
from cryonb.torch_utils import torch_threads


@pytest.fixture(autouse=True)
def one_thread():
    with torch_threads(1):
        yield


def test_default_network_is_the_seeds():
    net = ResidualNetwork()
    cfg = net.config
    assert (cfg.width, cfg.blocks, cfg.dropout) == (32, 10, 0.2)
    conv = 27 * 32 * 32 + 32                  # 3x3x3 convolution 32 -> 32 with bias
    norm = 2 * 32                             # affine instance norm
    expected = (27 * 32 + 32 + norm) + 10 * 2 * (conv + norm) + (32 * 2 + 2)
    assert count_parameters(net) == expected == 555_906
    assert receptive_radius(cfg) == 21
    assert sum(isinstance(m, torch.nn.Dropout) and m.p == 0.2 for m in net.modules()) == 10


def test_dropout_zeroes_a_fraction_p_and_keeps_the_mean():
    torch.manual_seed(0)
    drop = ResidualNetwork().blocks[0].body[3]
    x = torch.full((1, 4, 40, 40, 40), 2.0)
    y = drop.train()(x)
    zero = float((y == 0).float().mean())
    assert zero == pytest.approx(0.2, abs=0.005)
    assert torch.allclose(y[y != 0], torch.tensor(2.0 / 0.8))
    assert float(y.mean()) == pytest.approx(2.0, rel=0.01)
    assert torch.equal(drop.eval()(x), x)


def test_any_size_in_same_size_out_and_probabilities():
    torch.manual_seed(0)
    net = ResidualNetwork(NetworkConfig(width=8, blocks=2)).eval()
    x = torch.randn(2, 1, 9, 10, 11)
    assert net(x).shape == (2, 2, 9, 10, 11)
    p = net.probability(x)
    assert p.shape == (2, 9, 10, 11) and float(p.min()) >= 0 and float(p.max()) <= 1
    with pytest.raises(ValueError):
        ResidualNetwork(NetworkConfig(width=0))


def test_window_starts_cover_the_axis():
    assert window_starts(20, 32, 8) == [0]
    for n, window, overlap in [(100, 64, 16), (37, 16, 6), (64, 64, 16), (65, 64, 16)]:
        starts = window_starts(n, window, overlap)
        assert starts[0] == 0 and starts[-1] == n - window
        assert all(b - a <= window - overlap for a, b in zip(starts, starts[1:]))
    w = axis_weights(10, 16, 40, 6)
    assert w.min() > 0 and w[0] == w[-1] == pytest.approx(1 / 7) and w[6:10].tolist() == [1.0] * 4
    assert axis_weights(0, 16, 16, 6).tolist() == [1.0] * 16


def test_one_window_is_exactly_a_whole_map_pass():
    torch.manual_seed(1)
    net = ResidualNetwork(NetworkConfig(width=8, blocks=2))
    volume = np.random.default_rng(0).normal(size=(20, 24, 28)).astype(np.float32)
    whole = net.eval().probability(torch.from_numpy(volume)[None, None])[0].numpy()
    net.train()
    out = sliding_window(net, volume, window=32, overlap=8)
    assert net.training                                    # the caller's mode is restored
    assert np.allclose(out, whole, atol=1e-6)


def test_blending_of_overlapping_windows_is_exact_for_a_pointwise_network():
    """Each voxel's result depends on its own value only, so every window predicts the whole-map
    value and any correct blend (weights normalised, every voxel covered, windows in place) returns it."""
    torch.manual_seed(2)
    net = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 1), torch.nn.Tanh(), torch.nn.Conv3d(4, 2, 1))
    volume = np.random.default_rng(1).normal(size=(37, 50, 23)).astype(np.float32)
    with torch.no_grad():
        whole = torch.softmax(net(torch.from_numpy(volume)[None, None]), 1)[0, 1].numpy()
    for window, overlap, batch in [(16, 6, 3), (20, 0, 1), (24, 12, 4)]:
        out = sliding_window(net, volume, window, overlap, batch)
        assert out.shape == volume.shape
        assert np.allclose(out, whole, atol=1e-6), (window, overlap)


def test_predict_probability_returns_the_input_grid():
    torch.manual_seed(3)
    net = ResidualNetwork(NetworkConfig(width=4, blocks=1))
    m = Map(np.random.default_rng(2).normal(size=(30, 26, 22)), voxel_size=(1.0, 1.1, 0.9), origin=(5, -3, 2))
    prob = predict_probability(net, m, voxel_size=1.5, window=16, overlap=4)
    assert prob.same_grid(m) and prob.path is None
    assert prob.data.min() >= 0 and prob.data.max() <= 1
    same = Map(m.data, 1.5, m.origin)                     # on the network's grid: no resampling
    direct = predict_probability(net, same, voxel_size=1.5, window=64)
    normalised = (same.data - same.data.mean()) / same.data.std()
    expected = net.eval().probability(torch.from_numpy(normalised)[None, None])
    assert np.allclose(direct.data, expected[0].numpy(), atol=1e-5)
