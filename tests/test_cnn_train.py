"""Training the C-alpha network: the loss falls, checkpoints resume exactly, weights carry their record."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from cryonb.cnn.dataset import DataConfig, DataSplit, evaluation_samples
from cryonb.cnn.evaluate import evaluate_sample, weighted_loss
from cryonb.cnn.network import NetworkConfig, ResidualNetwork
from cryonb.cnn.train import TrainConfig, _update, learning_rate, train_network
from cryonb.cnn.weights import load_weights
from cryonb.errors import CryonbError

SPLIT = DataSplit(train=["3a4rA"], val=["3a4rA"], test=[])        # the smallest chain, for speed
NET = NetworkConfig(width=8, blocks=1, dropout=0.2)
DATA = DataConfig(resolution_range=(4.0, 6.0), snr_range=(5.0, 20.0))


def config(epochs: int, **kw) -> TrainConfig:
    return TrainConfig(epochs=epochs, steps_per_epoch=kw.pop("steps", 4), patch=24, window=48,
                       validation_resolutions=kw.pop("validation_resolutions", (5.0,)),
                       learning_rate=kw.pop("learning_rate", 3e-3),
                       device="cpu", threads=1, **kw)


def test_loss_falls_and_weights_carry_the_record(tmp_path):
    result = train_network(SPLIT, tmp_path, NET, DATA, config(3, steps=8))
    loss = result.history["train_loss"]
    assert loss[-1] < 0.8 * loss[0], loss
    assert result.history["val_loss"][-1] < result.history["val_loss"][0]
    for key in ("val_crscore", "val_recall", "val_precision", "val_crscore_5A"):
        assert len(result.history[key]) == 3 and 0 <= result.history[key][-1] <= 1
    net, info = load_weights(tmp_path / "weights.pt")
    assert info["voxel_size"] == 1.5 and info["network"] == NET.as_dict()
    record = info["record"]
    assert record["split"]["train"] == ["3a4rA"] and record["epochs"] == 3 and record["seconds"] > 0
    assert record["device"].startswith("cpu") and record["training"]["class_weights"] == [1.0, 50.0]
    best = record["best_epoch"]
    assert result.history["val_crscore"][best - 1] == max(result.history["val_crscore"])
    kept = result.network.state_dict()
    assert all(torch.equal(v, kept[k]) for k, v in net.state_dict().items())


def test_evaluate_sample_scores_network_and_naive_baseline():
    sample = evaluation_samples(["3a4rA"], DATA, (4.0,), seed=5, snr=10.0)[0]
    torch.manual_seed(0)
    row = evaluate_sample(ResidualNetwork(NET), sample, window=32, overlap=8, baseline=True)
    assert (row["name"], row["resolution"], row["snr"]) == ("3a4rA", 4.0, 10.0)
    assert row["loss"] > 0 and row["n_predicted"] >= 79 and row["naive_n_predicted"] == 79
    for key in ("crscore", "recall", "precision", "naive_crscore", "naive_recall", "naive_precision"):
        assert 0 <= row[key] <= 1
    assert row["naive_crscore"] > 0.5                 # density peaks find most C-alphas of a clean 4 Å map


def test_weighted_loss_matches_torch():
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(1, 2, 6, 7, 8)))
    labels = torch.from_numpy((rng.random((1, 6, 7, 8)) < 0.1).astype(np.int64))
    expected = F.cross_entropy(logits, labels, weight=torch.tensor([1.0, 50.0], dtype=torch.float64))
    prob = torch.softmax(logits, 1)[0, 1].numpy()
    assert weighted_loss(prob, labels[0].numpy(), (1.0, 50.0)) == pytest.approx(float(expected), rel=1e-6)


def test_resume_continues_exactly(tmp_path):
    straight = train_network(SPLIT, tmp_path / "a", NET, DATA, config(2))
    train_network(SPLIT, tmp_path / "b", NET, DATA, config(1))
    with pytest.raises(CryonbError, match="checkpoint of an earlier run"):
        train_network(SPLIT, tmp_path / "b", NET, DATA, config(2))
    with pytest.raises(CryonbError, match="other settings"):
        train_network(SPLIT, tmp_path / "b", NET, DATA, config(2, learning_rate=1e-3), resume=True)
    resumed = train_network(SPLIT, tmp_path / "b", NET, DATA, config(2), resume=True)
    assert resumed.history == straight.history
    a = torch.load(tmp_path / "a" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_time_limit_stops_before_an_epoch_that_would_pass_it(tmp_path):
    result = train_network(SPLIT, tmp_path, NET, DATA, config(5, steps=1, time_limit=1e-6))
    assert result.history["epoch"] == [1] and result.record["epochs"] == 1


def test_learning_rate_steps_down_after_decay_at():
    c = TrainConfig(learning_rate=1e-3, time_limit=100.0, decay_at=0.75, decay_factor=0.1)
    assert learning_rate(0.0, c) == 1e-3 and learning_rate(74.9, c) == 1e-3
    assert learning_rate(75.0, c) == pytest.approx(1e-4)
    assert learning_rate(1e6, TrainConfig(learning_rate=1e-3, time_limit=100.0)) == 1e-3   # no decay_at


def test_linear_decay_falls_with_time_to_the_factor_at_the_limit():
    c = TrainConfig(learning_rate=1e-3, time_limit=100.0, decay_at=0.5, decay_factor=0.01, decay="linear")
    assert learning_rate(49.9, c) == 1e-3 and learning_rate(50.0, c) == pytest.approx(1e-3)
    assert learning_rate(75.0, c) == pytest.approx(1e-3 * (1 - 0.5 * 0.99))
    assert learning_rate(100.0, c) == pytest.approx(1e-5) and learning_rate(150.0, c) == pytest.approx(1e-5)
    with pytest.raises(ValueError, match="decay"):
        learning_rate(0.0, TrainConfig(decay="cosine"))


def test_resume_with_a_decay_continues_and_records_the_rate(tmp_path):
    train_network(SPLIT, tmp_path, NET, DATA, config(1, steps=2, validation_resolutions=()))
    result = train_network(SPLIT, tmp_path, NET, DATA,
                           config(3, steps=2, time_limit=1e9, decay_at=0.0, validation_resolutions=()), resume=True)
    assert result.history["learning_rate"] == [3e-3, pytest.approx(3e-4), pytest.approx(3e-4)]
    assert result.record["schedule"] == {"time_limit": 1e9, "decay_at": 0.0, "decay_factor": 0.1, "decay": "step"}


def test_a_metric_new_since_a_resume_is_padded_to_the_epochs():
    net = ResidualNetwork(NET)
    state = {"epoch": 2, "history": {"train_loss": [0.3, 0.2]}, "seconds": 2.0, "best": None}
    _update(state, {"epoch": 3, "train_loss": 0.1, "learning_rate": 1e-4}, net, 1.0)
    assert state["history"]["train_loss"] == [0.3, 0.2, 0.1]
    assert state["history"]["learning_rate"] == [None, None, 1e-4]
