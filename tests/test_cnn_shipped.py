"""The shipped C-alpha network: its record (split, time, device) and what it finds on held-out maps."""
import json
from dataclasses import asdict

import numpy as np
import pytest

from cryonb.cnn import DEFAULT_WEIGHTS, DataConfig, load_weights, shipped_config, shipped_data, structure_names
from cryonb.cnn.dataset import load_structure, make_sample
from cryonb.cnn.evaluate import evaluate_sample

pytestmark = pytest.mark.skipif(not DEFAULT_WEIGHTS.is_file(), reason="no shipped weights")


@pytest.fixture(scope="module")
def shipped():
    return load_weights()


def test_record_holds_the_split_time_and_settings(shipped):
    net, info = shipped
    rec = info["record"]
    split = rec["split"]
    assert {"adk_closed", "adk_open"} <= set(split["test"]) and len(set(split["test"]) - {"adk_closed", "adk_open"}) >= 5
    assert not set(split["test"]) & (set(split["train"]) | set(split["val"]))
    assert not set(split["train"]) & set(split["val"])
    assert set(split["train"]) | set(split["val"]) | set(split["test"]) == set(structure_names())
    assert 0 < rec["seconds"] <= 7200 and rec["device"].startswith(("cpu", "cuda"))
    assert rec["training"]["learning_rate"] == 5e-4 and rec["training"]["class_weights"] == [1.0, 50.0]
    assert info["network"] == {"width": 32, "blocks": 10, "dropout": 0.2} and info["voxel_size"] == 1.5
    assert len(rec["history"]["val_crscore"]) == rec["epochs"] >= rec["best_epoch"] >= 1


def test_record_matches_the_shipped_settings(shipped):
    """shipped_data() and shipped_config() (the tool, the notebook's full=True) describe these weights."""
    rec = shipped[1]["record"]
    assert rec["data"] == json.loads(json.dumps(asdict(shipped_data())))      # tuples stored as lists
    config = shipped_config()
    assert rec["training"]["steps_per_epoch"] == config.steps_per_epoch
    assert rec["schedule"] == {"time_limit": config.time_limit, "decay_at": config.decay_at,
                               "decay_factor": config.decay_factor, "decay": config.decay}


def test_finds_the_calpha_atoms_of_a_held_out_chain(shipped):
    net, info = shipped
    st = load_structure("1dx5I")                                       # test split: never trained on
    sample = make_sample(st, DataConfig(snr_range=None), np.random.default_rng(3), "1dx5I", resolution=4.0)
    row = evaluate_sample(net, sample, baseline=True)
    assert row["crscore"] >= 0.85 and row["recall"] >= 0.85
    assert row["crscore"] > row["naive_crscore"]
    assert 118 <= row["n_predicted"] <= 141                             # L to 1.2 L
