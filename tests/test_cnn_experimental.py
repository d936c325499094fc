"""Experimental-looking training maps, labelled real maps and fine-tuning of the C-alpha network."""
import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree

from cryonb.cnn.dataset import DataConfig, ca_xyz, load_structure
from cryonb.cnn.experimental import (IGNORE, RealismConfig, build_scene, experimental_sample, noise_power,
                                     place_beside)
from cryonb.cnn.labelled_maps import labelled_batch, labelled_sample, proper_rotations, turned
from cryonb.cnn.network import NetworkConfig, ResidualNetwork
from cryonb.cnn.train import TrainConfig, TrainingMaps, _initial_network, train_step
from cryonb.cnn.weights import save_weights
from cryonb.density import SimulationConfig, frequency_grid, resample, simulate_map
from cryonb.errors import CryonbError
from cryonb.io import model_xyz, write_map, write_model
from cryonb.maps import Map

ALL = RealismConfig(p_neighbour=1, p_nucleic=1, p_ligands=1, p_belt=1, p_disordered=1, p_mask=0)


@pytest.fixture(scope="module")
def chains():
    return load_structure("3a4rA"), load_structure("1ahsA")


def test_a_neighbour_touches_without_overlapping():
    rng = np.random.default_rng(0)
    fixed = rng.normal(0, 8, (300, 3))
    for gap in (3.5, 4.0, 5.0):
        moved = place_beside(rng.normal(0, 6, (200, 3)), fixed, rng, gap=gap)
        closest = cKDTree(fixed).query(moved)[0].min()
        assert gap <= closest <= gap + 0.6


def test_scene_labels_protein_only_and_ignores_the_smeared_segment(chains):
    target, other = chains
    scene = build_scene(target, [other], load_structure("1K5I"), ALL, np.random.default_rng(1))
    names = [st[0][0].name for st in scene.structures]
    assert len(scene.structures) == 4 and names[-1] == "Z"          # target, neighbour, RNA, hetero
    n_ignored = len(scene.ignored)
    assert 6 <= n_ignored <= 20
    assert len(scene.labelled) == len(ca_xyz(target)) - n_ignored + len(ca_xyz(other))
    rna = model_xyz(scene.structures[2])
    assert cKDTree(rna).query(scene.labelled)[0].min() > 2.0       # no label on the RNA
    smeared = [a.b_iso for r in scene.structures[0][0][0] for a in r
               if a.name == "CA" and cKDTree(scene.ignored).query(a.pos.tolist())[0] < 1e-3]
    assert len(smeared) == n_ignored and min(smeared) > 150


def test_noise_rises_towards_the_resolution_and_stays_flat_beyond():
    grid = Map(np.zeros((40, 40, 40), np.float32), 1.0)
    s = frequency_grid(grid.shape, grid.voxel_size)
    signal = np.exp(-50 * s ** 2 / 4) + 0j                 # a falling signal spectrum
    power = noise_power(signal, s, resolution=4.0, rise=4.0)
    snr = np.abs(signal) ** 2 / power
    low, at, beyond = snr[(s > 0.05) & (s < 0.06)].mean(), snr[np.abs(s - 0.25) < 0.01].mean(), s > 0.3
    assert low > 10 * at                                    # rising SNR to low frequency
    assert np.ptp(power[beyond]) < 1e-9 * power[beyond].max() + 1e-300


def test_experimental_map_holds_the_target_and_its_labels(chains):
    """Labelled voxels sit in density: the map is denser at the C-alphas than elsewhere."""
    target, other = chains
    data = DataConfig()
    sample = experimental_sample(target, [other], data, ALL, np.random.default_rng(2), resolution=4.0, min_edge=48)
    assert np.allclose(sample.map.voxel_size, data.voxel_size) and min(sample.map.shape) >= 48
    assert sample.labels.shape == sample.map.shape
    assert (sample.labels == 1).any() and (sample.labels == IGNORE).any()
    labelled = sample.map.data[sample.labels == 1].mean()
    assert labelled > sample.map.data.mean() + 0.5 * sample.map.data.std()


def test_a_masked_map_is_flat_in_the_solvent(chains):
    target, _ = chains
    cfg = RealismConfig(p_neighbour=0, p_nucleic=0, p_ligands=0, p_belt=0, p_disordered=0, p_mask=1)
    sample = experimental_sample(target, [], DataConfig(padding=20.0), cfg, np.random.default_rng(3), resolution=5.0)
    corner = sample.map.data[:4, :4, :4]
    assert np.ptp(corner) < 1e-3


def test_antialiased_downsampling_removes_a_checkerboard():
    z, y, x = np.indices((64, 64, 64))
    board = Map(((-1.0) ** (x + y + z)).astype(np.float32), 0.8)
    plain = resample(board, 1.5)
    clean = resample(board, 1.5, antialias=True)
    assert np.abs(plain.data).std() > 0.2 and np.abs(clean.data).std() < 0.01


def test_cube_rotations_are_the_24_proper_ones():
    rots = proper_rotations()
    vol = np.random.default_rng(0).normal(size=(5, 6, 7))
    shapes = {turned(vol, r).tobytes() for r in rots}
    assert len(rots) == 24 and len(shapes) == 24
    mirror = vol[::-1].copy()
    assert all(not np.allclose(turned(vol, r), mirror) for r in rots if turned(vol, r).shape == mirror.shape)


def test_labelled_map_ignores_density_the_model_does_not_explain(tmp_path, adk_closed):
    m = simulate_map(adk_closed, SimulationConfig(resolution=4.0, voxel_size=1.5, padding=14.0))
    far = m.data.copy()
    far[:6, :6, :6] += 5 * m.data.max()                     # a blob no atom of the model explains
    write_map(m.copy(data=far), tmp_path / "map.mrc")
    write_model(adk_closed, tmp_path / "model.pdb")
    sample = labelled_sample(tmp_path / "map.mrc", tmp_path / "model.pdb", 4.0, min_edge=48)
    assert (sample.labels[:6, :6, :6] == IGNORE).any()
    assert (sample.labels == 1).sum() >= len(ca_xyz(adk_closed))
    x, y = labelled_batch([sample], 32, 2, np.random.default_rng(0))
    assert x.shape == (2, 1, 32, 32, 32) and y.shape == (2, 32, 32, 32) and (y == 1).any()


def test_fine_tuning_starts_from_the_given_weights_and_skips_ignored_voxels(tmp_path, chains):
    small = NetworkConfig(width=4, blocks=1)
    start = ResidualNetwork(small)
    save_weights(tmp_path / "w.pt", start, 1.5)
    cfg = TrainConfig(patch=24, init_weights=str(tmp_path / "w.pt"), bfloat16=False)
    net = _initial_network(small, cfg, torch.device("cpu"))
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), start.state_dict().values()))
    with pytest.raises(CryonbError, match="holds a network"):
        _initial_network(NetworkConfig(width=8, blocks=1), cfg, torch.device("cpu"))
    source = TrainingMaps({"a": chains[0], "b": chains[1]}, DataConfig(), ALL)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss = train_step(net, opt, source, cfg, torch.tensor([1.0, 50.0]), step=0)
    assert np.isfinite(loss) and loss > 0


def test_consensus_averages_paired_atoms_and_flags_disagreement():
    from cryonb.cnn.consensus import consensus
    from cryonb.cnn.peaks import Peaks
    xyz = 4.0 * np.stack(np.meshgrid(np.arange(5), np.arange(4), np.arange(3), indexing="ij"), -1).reshape(-1, 3)
    first = Peaks(xyz, np.full(60, 0.9), np.zeros((60, 3), int))
    moved = xyz + np.array([0.6, 0.0, 0.0])                 # 4 Å apart, moved 0.6 Å: each atom pairs with itself
    second = Peaks(np.concatenate([moved, [[500.0, 0, 0]]]), np.full(61, 0.7), np.zeros((61, 3), int))
    agreed = consensus(first, second, 60)
    assert agreed.reliable and agreed.n_paired == 60 and len(agreed.xyz) == 61
    assert np.allclose(agreed.xyz[:60].mean(0), (xyz + moved).mean(0) / 2)
    assert np.allclose(agreed.value[:60], 0.8) and np.allclose(agreed.xyz[60], [500.0, 0, 0])
    far = Peaks(xyz + 6.0, np.full(60, 0.7), np.zeros((60, 3), int))
    assert not consensus(first, far, 60).reliable


def test_bfloat16_only_where_the_device_has_it(monkeypatch):
    from cryonb.cnn.train import use_bfloat16
    cpu = torch.device("cpu")
    assert not use_bfloat16(TrainConfig(bfloat16=False), cpu)
    assert use_bfloat16(TrainConfig(), torch.device("cuda"))
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    assert not use_bfloat16(TrainConfig(), cpu)          # emulated on an AVX2-only CPU: minutes per step
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    assert use_bfloat16(TrainConfig(), cpu)
