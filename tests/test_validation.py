"""Model validation report and the `cryonb validate` command on real structures."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cryonb import data, density
from cryonb.io import write_map, write_model
from cryonb.perturb import jitter
from cryonb.validation.headline import KEYS, OPTIONAL_PREFIXES
from cryonb.validation.report import molprobity_score, validate_model

GEOMETRY = ["bond_rmsz", "angle_rmsz", "bond_outliers_z4", "angle_outliers_z4", "cbeta_deviations",
            "clashscore", "rama_outliers_pct", "rotamer_outliers_pct", "molprobity_score"]


@pytest.fixture(scope="module")
def reports(adk_closed):
    return {sigma: validate_model(jitter(adk_closed, sigma, seed=0) if sigma else adk_closed)
            for sigma in (0.0, 0.1, 0.3)}


def test_clean_adk_is_a_good_model(reports):
    s = reports[0.0].summary
    assert s["n_residues"] == 214 and s["n_atoms"] == 1656
    assert s["rama_favored_pct"] > 94 and s["rama_outliers"] <= 2
    assert 0.8 < s["bond_rmsz"] < 1.6 and 0.8 < s["angle_rmsz"] < 1.8
    assert s["bond_outliers_z5"] == 0 and s["cbeta_deviations"] <= 2
    assert s["clashscore"] < 15 and s["n_cis_proline"] == 1 and s["n_twisted"] == 0
    assert 1.0 < s["molprobity_score"] < 2.5
    assert reports[0.0].unavailable == {}


def test_noisy_copies_score_worse_on_every_geometry_metric(reports):
    for key in GEOMETRY:
        clean, small, large = (reports[s].summary[key] for s in (0.0, 0.1, 0.3))
        assert clean < small < large or (key == "rama_outliers_pct" and clean <= small < large), key
    assert reports[0.1].summary["rama_favored_pct"] < reports[0.0].summary["rama_favored_pct"]
    assert reports[0.3].summary["bond_rmsz"] > 20


def test_molprobity_score_formula():
    # clashscore 0, no outliers, 100 % favoured: the floor of the formula
    assert molprobity_score(0, 0, 100) == pytest.approx(0.5)
    assert molprobity_score(10, 3, 90) == pytest.approx(0.426 * 2.3979 + 0.33 * 1.0986 + 0.25 * 2.1972 + 0.5,
                                                        abs=1e-3)


def test_missing_reference_tables_are_reported_not_zero(adk_closed, tmp_path, monkeypatch):
    monkeypatch.setenv("CRYONB_TOP8000", str(tmp_path))
    report = validate_model(adk_closed)
    s = report.summary
    assert s["rama_favored_pct"] is None and s["rotamer_outliers_pct"] is None and s["molprobity_score"] is None
    assert "Top8000" in report.unavailable["rama_favored_pct"]
    assert "rotamer_outliers_pct" in report.unavailable and "molprobity_score" in report.unavailable
    assert s["clashscore"] == pytest.approx(validate_model(adk_closed).summary["clashscore"])


def test_rna_model_gets_suiteness_and_geometry():
    st = data.load_corpus_structure("1K5I")
    s = validate_model(st).summary
    assert s["n_rna_suites"] == 22 and 0.3 < s["rna_suiteness"] < 0.6
    # an MD snapshot (CHARMM36 bond lengths): restrained, but not at CCP4 ideals
    assert 1 < s["bond_rmsz"] < 5 and s["n_residues"] == 23 and s["n_peptides"] == 0


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "cryonb.cli", "validate", *map(str, args)],
                          capture_output=True, text=True)


def test_cli_writes_json_with_required_keys(adk_closed, tmp_path):
    model = write_model(adk_closed, tmp_path / "adk.pdb")
    m = density.simulate_map(adk_closed, density.SimulationConfig(resolution=4.0, voxel_size=1.2))
    mapfile = write_map(m, tmp_path / "adk_4A.mrc")
    out = tmp_path / "report.json"
    proc = run_cli(model, "--map", mapfile, "--resolution", 4.0, "--json", out)
    assert proc.returncode == 0, proc.stderr
    assert "Clashscore" in proc.stdout and "Q-score" in proc.stdout
    report = json.loads(out.read_text())
    for key in KEYS + ["n_residues", "n_atoms"]:
        assert (report[key] is None) == key.startswith(OPTIONAL_PREFIXES), key   # AdK: no ligand, no RNA
    assert abs(report["fsc05_resolution"] - 4.0) < 0.6
    assert report["cc_mask"] > 0.8 and 0.2 < report["qscore"] < 1
    assert len(report["residues"]) == 214 and "qscore" in report["residues"][0]


def test_cli_bad_inputs(adk_closed, tmp_path):
    model = write_model(adk_closed, tmp_path / "adk.pdb")
    m = density.simulate_map(adk_closed, density.SimulationConfig(resolution=6.0, voxel_size=2.0))
    mapfile = write_map(m, tmp_path / "adk.mrc")
    proc = run_cli(model, "--map", mapfile)
    assert proc.returncode == 2 and "resolution" in proc.stderr and "adk.mrc" in proc.stderr
    garbage = tmp_path / "garbage.pdb"
    garbage.write_text("this is not a model\n")
    proc = run_cli(garbage)
    assert proc.returncode == 2 and "garbage.pdb" in proc.stderr
    before = model.read_bytes()
    proc = run_cli(model, "--json", model)
    assert proc.returncode == 2 and "overwrite" in proc.stderr
    assert model.read_bytes() == before
    proc = run_cli(model, "--monomer-library", tmp_path / "nowhere")
    assert proc.returncode == 2 and "nowhere" in proc.stderr
