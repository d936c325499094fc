"""`cryonb rerank`, `cryonb trace` and `cryonb assemble` end to end on a simulated AdK closed map with the shipped network.

The pool holds AdK open (same sequence, a hinge motion away) and two unrelated corpus chains; the
map is AdK closed at 4 Å with noise. Checked: the outputs and run records, AdK open ranked first by
CRscore and by density, its placed chain (all atoms) on AdK closed's core, the traces covering the
predicted atoms once each, the assembled model closer to AdK closed than the placed template it
started from, its scores and run record, and no input changed.
"""
import csv
import hashlib
import json

import numpy as np
import pytest

from cryonb.cli import main
from cryonb.data import load_corpus_structure
from cryonb.density import SimulationConfig, add_noise, simulate_map
from cryonb.io import calpha, read_model, write_map, write_model
from cryonb.trace.thread import structure_sequence

CORE = np.r_[0:29, 60:121, 160:214]       # AdK's CORE domain (0-based), rigid between open and closed


@pytest.fixture(scope="module")
def case(tmp_path_factory, adk_closed, adk_open):
    d = tmp_path_factory.mktemp("rerank")
    m = simulate_map(adk_closed, SimulationConfig(resolution=4.0, voxel_size=1.0, padding=6.0))
    write_map(add_noise(m, snr=3.0, seed=2), d / "map.mrc")
    (d / "adk.fasta").write_text(">adk closed\n" + structure_sequence(adk_closed) + "\n")
    (d / "pool").mkdir()
    write_model(adk_open, d / "pool" / "adk_open.pdb")
    for name in ("2cviA", "3e8mA"):
        write_model(load_corpus_structure(name), d / "pool" / f"{name}.cif")
    before = _digest(d)
    rc = main(["rerank", "--map", str(d / "map.mrc"), "--resolution", "4", "--sequence", str(d / "adk.fasta"),
               "--templates", str(d / "pool"), "--out", str(d / "rr"), "--top", "2", "--threads", "2",
               "--shuffles", "20"])
    rc_trace = main(["trace", "--map", str(d / "map.mrc"), "--resolution", "4", "--sequence", str(d / "adk.fasta"),
                     "--ca", str(d / "rr" / "predicted_ca.cif"), "--out", str(d / "tr")])
    return {"dir": d, "rc": (rc, rc_trace), "before": before, "closed": adk_closed}


def _digest(d):
    return {p.name: hashlib.sha1(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*")) if p.is_file()}


def _rows(path):
    with open(path) as fh:
        return list(csv.DictReader(fh))


def test_rerank_writes_the_ranking_the_placed_templates_and_a_record(case):
    d = case["dir"] / "rr"
    assert case["rc"][0] == 0
    rows = _rows(d / "ranking.csv")
    assert [r["rank"] for r in rows] == ["1", "2", "3"]
    assert rows[0]["template"] == "adk_open" and float(rows[0]["identity"]) == 1.0
    assert float(rows[0]["crscore"]) > float(rows[1]["crscore"]) + 0.2
    assert rows[0]["rank_density"] == "1" and rows[0]["placed"] == "placed/01_adk_open_A.cif"
    assert sorted(p.name for p in (d / "placed").iterdir()) == ["01_adk_open_A.cif", f"02_{rows[1]['template']}_A.cif"]
    status = json.loads((d / "status.json").read_text())
    metrics = json.loads((d / "metrics.json").read_text())
    assert status["state"] == "ok" and metrics["top_template"] == "adk_open:A" and metrics["templates"] == 3


def test_the_placed_template_keeps_its_atoms_and_sits_on_the_core(case):
    placed = read_model(case["dir"] / "rr" / "placed" / "01_adk_open_A.cif")
    assert placed[0].count_atom_sites() == case["closed"][0].count_atom_sites()
    _, ca = calpha(placed)
    _, truth = calpha(case["closed"])
    core = np.sqrt(((ca[CORE] - truth[CORE]) ** 2).sum(1).mean())
    assert core < 3.0, core


def test_trace_covers_every_predicted_atom_once_and_threads_the_long_traces(case):
    d = case["dir"] / "tr"
    assert case["rc"][1] == 0
    rows = _rows(d / "traces.csv")
    _, predicted = calpha(read_model(case["dir"] / "rr" / "predicted_ca.cif"))
    assert sum(int(r["atoms"]) for r in rows) == len(predicted)
    traces = read_model(d / "traces.cif")
    assert [ch.name for ch in traces[0]] == [r["chain"] for r in rows]
    long = [r for r in rows if int(r["atoms"]) >= 10]
    assert long and all(r["threaded"] == "True" and 1 <= int(r["first_residue"]) <= int(r["last_residue"]) <= 214
                        for r in long)
    names = {res.name for ch in traces[0] for res in ch}
    assert names - {"UNK"} and names <= set(["UNK"]) | {res.name for res in case["closed"][0][0]}
    assert json.loads((d / "status.json").read_text())["state"] == "ok"


@pytest.fixture(scope="module")
def assembled(case):
    d = case["dir"]
    before = _digest(d / "rr")
    rc = main(["assemble", "--map", str(d / "map.mrc"), "--resolution", "4", "--sequence", str(d / "adk.fasta"),
               "--rerank", str(d / "rr"), "--traces", str(d / "tr" / "traces.cif"), "--out", str(d / "as"),
               "--replicas", "6", "--steps", "2500", "--geometry-steps", "30"])
    return {"rc": rc, "dir": d / "as", "rerank_before": before}


def test_assemble_moves_the_template_towards_the_map_and_scores_the_models(case, assembled):
    from cryonb.templates.tmscore import tm_score
    d = assembled["dir"]
    assert assembled["rc"] == 0
    rows = _rows(d / "models.csv")
    assert 1 <= len(rows) <= 5 and [r["model"] for r in rows] == [str(k + 1) for k in range(len(rows))]
    sizes = [int(r["cluster_size"]) for r in rows]
    assert sizes == sorted(sizes, reverse=True)
    assert all(0.18 <= float(r["etm"]) <= 1.0 for r in rows)
    model = read_model(d / "model_1_ca.cif")
    _, xyz = calpha(model)
    _, truth = calpha(case["closed"])
    _, start = calpha(read_model(case["dir"] / "rr" / "placed" / "01_adk_open_A.cif"))
    assert len(xyz) == 214 and [r.name for r in model[0][0]][:3] == [r.name for r in case["closed"][0][0]][:3]
    assert tm_score(xyz, truth) > tm_score(start, truth) + 0.03
    full = read_model(d / "model_1.cif")                    # every atom, C-alphas kept in place
    assert abs(full[0].count_atom_sites() - case["closed"][0].count_atom_sites()) <= 2
    assert np.sqrt(((calpha(full)[1] - xyz) ** 2).sum(1).mean()) < 0.5
    assert all(r["molprobity_score"] != "" and 0.0 < float(r["cc_mask"]) < 1.0 for r in rows)
    local = _rows(d / "local.csv")
    assert len(local) == 214 * len(rows)
    status = json.loads((d / "status.json").read_text())
    assert status["state"] == "ok" and (d / "remc.npz").is_file()
    assert _digest(case["dir"] / "rr") == assembled["rerank_before"]


def test_no_input_changed(case):
    after = _digest(case["dir"])
    assert {k: v for k, v in after.items() if k in case["before"]} == case["before"]


def test_build_runs_every_step_and_a_rerun_resumes_them(case):
    d = case["dir"]
    args = ["build", "--map", str(d / "map.mrc"), "--resolution", "4", "--sequence", str(d / "adk.fasta"),
            "--templates", str(d / "pool"), "--out", str(d / "build"), "--replicas", "2", "--steps", "300",
            "--shuffles", "10", "--geometry-steps", "10", "--no-refine", "--threads", "2"]
    assert main(args) == 0
    b = d / "build"
    steps = json.loads((b / "steps.json").read_text())["steps"]
    assert [s["name"] for s in steps] == ["rerank", "trace", "assembly"] and not any(s["resumed"] for s in steps)
    for name in ("rerank", "trace", "assembly"):
        assert json.loads((b / name / "status.json").read_text())["state"] == "ok"
    first = (b / "model_1.cif").read_bytes()
    import gemmi                  # not cryonb.io.read_model: a file it read is never overwritten in this process
    full = gemmi.read_structure(str(b / "model_1.cif"))
    assert full[0].count_atom_sites() > 1000                                # full atom
    bare = sum(r.name != "GLY" and r.find_atom("CB", "*") is None for r in full[0][0])
    assert int(_rows(b / "assembly" / "models.csv")[0]["no_side_chain"]) == bare   # counted as written
    assert main(args) == 0                                                  # the rerun skips every step
    steps = json.loads((b / "steps.json").read_text())["steps"]
    assert all(s["resumed"] for s in steps) and (b / "model_1.cif").read_bytes() == first
