"""`cryonb predict-ca`: clear errors for bad inputs, and a run end to end with tiny random weights."""
import json

import numpy as np
import pytest
import torch

import cryonb.cnn.weights as weights_module
from cryonb.cli import main
from cryonb.cnn.dataset import load_structure
from cryonb.cnn.network import NetworkConfig, ResidualNetwork
from cryonb.cnn.weights import load_weights, save_weights, ship_weights
from cryonb.density import SimulationConfig, simulate_map
from cryonb.io import read_map, read_model, write_map


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A 4 Å map of the smallest corpus chain on 1.0 Å voxels and tiny random weights (1.5 Å grid)."""
    folder = tmp_path_factory.mktemp("predict_ca")
    st = load_structure("3a4rA")
    write_map(simulate_map(st, SimulationConfig(resolution=4.0, voxel_size=1.0)), folder / "map.mrc")
    torch.manual_seed(0)
    net = ResidualNetwork(NetworkConfig(width=4, blocks=1))
    save_weights(folder / "tiny.pt", net, 1.5, {"note": "random"})
    return folder


def run(inputs, *extra, out="ca.pdb", length="79"):
    return main(["predict-ca", "--map", str(inputs / "map.mrc"), "--resolution", "4", "--length", length,
                 "--out", str(inputs / out), "--threads", "1", *extra])


def test_missing_shipped_weights_say_so(inputs, monkeypatch, capsys):
    monkeypatch.setattr(weights_module, "DEFAULT_WEIGHTS", inputs / "none" / "weights.pt")
    assert run(inputs) == 2
    err = capsys.readouterr().err
    assert "no trained C-alpha network ships" in err and "--weights" in err
    assert not (inputs / "ca.pdb").exists()


@pytest.mark.parametrize("extra, length, out, message", [
    (["--weights", "missing.pt"], "79", "ca.pdb", "weights file does not exist"),
    ([], "0", "ca.pdb", "--length must be >= 1"),
    ([], "79", "ca.mrc", "unknown model format"),
    (["--window", "16", "--overlap", "16"], "79", "ca.pdb", "--overlap must be"),
    (["--probability-map", "map.mrc"], "79", "ca.pdb", "is the input map"),
])
def test_bad_options(inputs, capsys, extra, length, out, message):
    extra = [str(inputs / e) if e.endswith((".pt", ".mrc")) else e for e in extra]
    if "--weights" not in extra:
        extra += ["--weights", str(inputs / "tiny.pt")]
    assert run(inputs, *extra, out=out, length=length) == 2
    assert message in capsys.readouterr().err


def test_resolution_finer_than_nyquist(inputs, capsys):
    code = main(["predict-ca", "--map", str(inputs / "map.mrc"), "--resolution", "1.2", "--length", "79",
                 "--out", str(inputs / "x.pdb"), "--weights", str(inputs / "tiny.pt")])
    assert code == 2 and "Nyquist" in capsys.readouterr().err


def test_not_a_weights_file(inputs, capsys):
    (inputs / "junk.pt").write_bytes(b"not a torch file")
    assert run(inputs, "--weights", str(inputs / "junk.pt")) == 2
    assert "not a readable torch weights file" in capsys.readouterr().err


def test_end_to_end_with_random_weights(inputs, capsys):
    before = (inputs / "map.mrc").read_bytes()
    assert run(inputs, "--weights", str(inputs / "tiny.pt"), "--window", "24", "--overlap", "8", "--single",
               "--probability-map", str(inputs / "prob.mrc"), out="ca.cif") == 0
    printed = capsys.readouterr().out
    assert "C-alpha atoms for length 79" in printed and "naive baseline" in printed
    report = json.loads((inputs / "ca.json").read_text())
    assert report["networks"] == [str(inputs / "tiny.pt")] and report["agreement"] is None
    naive = read_model(inputs / "ca_naive.cif")
    assert sum(len(r) for r in naive[0]["A"]) == 79 == report["naive_atoms"]
    assert 0 <= report["network_atoms_found_by_naive"] <= 79
    assert report["density_sd_at_naive_atoms"] > 0       # the naive atoms sit on the densest voxels
    assert (inputs / "map.mrc").read_bytes() == before
    st = read_model(inputs / "ca.cif")
    atoms = [a for r in st[0]["A"] for a in r]
    assert 79 <= len(atoms) <= 94 and {a.name for a in atoms} == {"CA"}
    assert {r.name for r in st[0]["A"]} == {"UNK"}
    b = np.array([a.b_iso for a in atoms])
    assert b.min() >= 0 and b.max() <= 100 and np.all(np.diff(b[:79]) <= 1e-6)
    m, prob = read_map(inputs / "map.mrc"), read_map(inputs / "prob.mrc")
    assert prob.same_grid(m) and prob.data.min() >= 0 and prob.data.max() <= 1
    assert m.contains(np.array([a.pos.tolist() for a in atoms])).all()
    net, info = load_weights(inputs / "tiny.pt")
    assert info["record"] == {"note": "random"} and not net.training


def test_ship_weights_installs_a_checked_copy(inputs, monkeypatch):
    target = inputs / "package" / "data" / "weights.pt"
    monkeypatch.setattr(weights_module, "DEFAULT_WEIGHTS", target)
    assert ship_weights(inputs / "tiny.pt") == target
    assert target.read_bytes() == (inputs / "tiny.pt").read_bytes()
    (inputs / "junk2.pt").write_bytes(b"not weights")
    with pytest.raises(Exception, match="not a readable torch weights file"):
        ship_weights(inputs / "junk2.pt")
    assert target.read_bytes() == (inputs / "tiny.pt").read_bytes()     # a bad file replaces nothing


def test_a_length_the_map_cannot_hold_is_warned():
    from cryonb.commands.predict_ca import length_warnings
    assert length_warnings([0.9] * 214, 214) == []
    few = length_warnings([0.9] * 100, 214)
    assert len(few) == 1 and "only 100 positions" in few[0]
    guesses = length_warnings([0.9] * 200 + [0.05] * 14, 214)
    assert len(guesses) == 1 and "14 of the 214 atoms" in guesses[0]


def test_two_networks_give_a_consensus_and_say_how_far_they_agree(inputs, capsys):
    torch.manual_seed(1)
    save_weights(inputs / "tiny2.pt", ResidualNetwork(NetworkConfig(width=4, blocks=1)), 1.5)
    assert run(inputs, "--weights", str(inputs / "tiny.pt"), "--second-weights", str(inputs / "tiny.pt"),
               out="same.pdb") == 0
    same = json.loads((inputs / "same.json").read_text())
    assert same["agreement"] == pytest.approx(1.0) and same["reliable"] and same["n_paired"] >= 79
    assert run(inputs, "--weights", str(inputs / "tiny.pt"), "--second-weights", str(inputs / "tiny2.pt"),
               out="two.pdb") == 0
    two = json.loads((inputs / "two.json").read_text())
    assert two["networks"] == [str(inputs / "tiny.pt"), str(inputs / "tiny2.pt")]
    assert two["agreement"] < 0.85 and not two["reliable"]
    assert "agree only to CRscore" in capsys.readouterr().err
