"""Prior terms and geometry-only refinement on real structures (AdK, the 1K5I RNA)."""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from cryonb import data
from cryonb.geometry.library import RestraintLibrary
from cryonb.restraints.loss import GeometryLoss, GeometryWeights
from cryonb.geometry.topology import build_topology
from cryonb.restraints.torsion_priors import RamaTerm, RotamerTerm, SuiteTerm
from cryonb.io import read_model, write_model
from cryonb.perturb import jitter
from cryonb.superpose import rmsd
from cryonb.refinement import GeometryRefineConfig, refine_geometry
from cryonb.refinement.geometry_only import converged
from cryonb.validation.dihedrals import residue_torsions
from cryonb.validation.rama import rama_classes
from cryonb.validation.report import validate_model
from cryonb.validation.suites import suites
from tests.models import first_residues


@pytest.fixture(scope="module")
def priors():
    from cryonb.priors import load_priors
    return load_priors()


@pytest.fixture(scope="module")
def adk_topo(adk_closed):
    return build_topology(adk_closed, warn=False)


def test_rama_classes_match_validation(adk_closed, adk_topo, priors):
    term = RamaTerm(adk_topo, adk_topo.xyz(adk_closed), priors.rama)
    t = residue_torsions(adk_closed)
    ok = ~np.isnan(t.phi) & ~np.isnan(t.psi)
    assert sorted(term.classes.tolist()) == sorted(rama_classes(t)[ok].tolist())
    assert "cis-pro" in term.classes.tolist()     # Pro87 follows AdK's cis peptide


def test_rama_outlier_count_matches_validation(adk_closed, adk_topo, priors):
    """RamaTerm.outliers counts, per model of a batch, what validation.ramachandran calls outliers
    (AdK closed has none; DIMS trajectory frames have several)."""
    from cryonb.io import set_model_xyz
    from cryonb.validation.rama import ramachandran
    term = RamaTerm(adk_topo, adk_topo.xyz(adk_closed), priors.rama)
    models = [adk_closed]
    for frame in data.adk_dims_frames()[[0, 30, 60]]:
        models.append(adk_closed.clone())
        set_model_xyz(models[-1], frame)
    counts = term.outliers(torch.as_tensor(np.stack([adk_topo.xyz(m) for m in models]))).tolist()
    expected = [sum(r.category == "outlier" for r in ramachandran(m).residues) for m in models]
    assert counts == expected and expected[0] == 0 and min(expected[1:]) > 0


@pytest.mark.parametrize("kind", ["rama", "rotamer"])
def test_prior_terms_have_finite_difference_gradients(adk_closed, adk_topo, priors, kind):
    st = first_residues(adk_closed, 12)
    topo = build_topology(st, warn=False)
    x0 = jitter(st, 0.2, seed=1)
    xyz = torch.as_tensor(topo.xyz(x0), dtype=torch.float64).requires_grad_(True)
    mixtures = {k: copy.deepcopy(m).double() for k, m in (priors.rama if kind == "rama" else priors.rotamer).items()}
    term = RamaTerm(topo, topo.xyz(st), mixtures) if kind == "rama" else RotamerTerm(topo, mixtures)
    assert torch.autograd.gradcheck(term, (xyz,), eps=1e-6, atol=1e-5)


def test_noise_raises_every_prior_loss(adk_closed, adk_topo, priors):
    loss = GeometryLoss(adk_topo, RestraintLibrary(), adk_topo.xyz(adk_closed), priors=priors)
    clean = loss.terms(torch.as_tensor(adk_topo.xyz(adk_closed)))
    noisy = loss.terms(torch.as_tensor(adk_topo.xyz(jitter(adk_closed, 0.3, seed=0))))
    for name in ("bond", "angle", "planarity", "chirality", "clash", "rama", "rotamer"):
        assert float(noisy[name]) > float(clean[name]), name


def test_geometry_refinement_repairs_a_noisy_fragment(adk_closed, priors):
    st = first_residues(adk_closed, 60)
    noisy = jitter(st, 0.3, seed=0)
    before_xyz = np.array([a.pos.tolist() for r in noisy[0][0] for a in r])
    result = refine_geometry(noisy, GeometryRefineConfig(steps=150), priors=priors)
    assert np.array_equal(before_xyz, [a.pos.tolist() for r in noisy[0][0] for a in r])  # input untouched
    before, after = validate_model(noisy).summary, validate_model(result.structure).summary
    assert after["bond_rmsz"] < 1.0 < before["bond_rmsz"]
    assert after["angle_rmsz"] < 1.0 < before["angle_rmsz"]
    assert after["rama_outliers_pct"] < before["rama_outliers_pct"]
    assert after["rotamer_outliers_pct"] < before["rotamer_outliers_pct"]
    assert after["clashscore"] < before["clashscore"]
    def ca(s):
        return np.array([r["CA"][0].pos.tolist() for r in s[0][0]])
    # regularising moves the model back towards the clean one
    assert rmsd(ca(result.structure), ca(st)) < rmsd(ca(noisy), ca(st))
    assert result.history["total"][-1] < result.history["total"][0]
    assert result.iterations == 150 and len(result.history["shift"]) == 6


def test_lbfgs_keeps_fewer_pairs_only_for_very_large_decoders():
    from cryonb.refinement.geometry_only import LBFGS_HISTORY, lbfgs_history
    atoms_decoder = lambda n_atoms: 256 * 3 * n_atoms                      # noqa: E731 - its last layer
    assert lbfgs_history(atoms_decoder(1_656)) == lbfgs_history(atoms_decoder(15_000)) == LBFGS_HISTORY
    assert 5 <= lbfgs_history(atoms_decoder(165_000)) < LBFGS_HISTORY
    assert lbfgs_history(atoms_decoder(165_000), itemsize=8) <= lbfgs_history(atoms_decoder(165_000))


def test_convergence_needs_both_windows_after_the_ramp():
    settling = [10.0, 5.0, 3.0, 2.5, 2.4, 2.4, 2.4, 2.4, 2.4, 2.4]
    assert not converged(settling, 4, None)
    assert not converged(settling[:9], 4, 0.01)            # the earlier window would start before round 4
    assert converged(settling, 4, 0.01)
    assert not converged(settling, 4, 0.0)
    falling = [10.0 - k for k in range(10)]
    assert not converged(falling, 4, 0.01)


def test_polish_stops_once_settled_and_says_so(adk_closed, priors):
    noisy = jitter(first_residues(adk_closed, 30), 0.2, seed=1)
    full = refine_geometry(noisy, GeometryRefineConfig(steps=400, refresh_every=10), priors=priors)
    early = refine_geometry(noisy, GeometryRefineConfig(steps=400, refresh_every=10, converge=0.02), priors=priors)
    assert full.iterations == 400 and len(full.history["total"]) == 40
    assert 260 <= early.iterations < 400                     # 20 ramp rounds + two windows of 3
    assert np.allclose(early.history["total"], full.history["total"][:len(early.history["total"])])
    assert rmsd(early.xyz, full.xyz) < 0.25 * full.rms_shift        # the last rounds moved atoms little


def test_suite_prior_raises_rna_suiteness():
    st = data.load_corpus_structure("1K5I")
    topo = build_topology(st, warn=False)
    weights = GeometryWeights(rama=0, rotamer=0, suite=1.0)
    term = SuiteTerm(topo)
    assert len(term.quads) == suites(st).n_suites
    result = refine_geometry(st, GeometryRefineConfig(steps=100, tether_sigma=1.0, weights=weights))
    assert suites(result.structure).mean_suiteness > suites(st).mean_suiteness + 0.05


def test_refine_geometry_command(tmp_path, adk_closed):
    model = write_model(jitter(first_residues(adk_closed, 30), 0.2, seed=2), tmp_path / "in.cif")
    original = model.read_bytes()
    cmd = [sys.executable, "-m", "cryonb.cli", "refine-geometry", str(model)]
    refused = subprocess.run(cmd + ["-o", str(model)], capture_output=True, text=True)
    assert refused.returncode == 2 and "overwrite the input" in refused.stderr
    out = tmp_path / "out.pdb"
    done = subprocess.run(cmd + ["-o", str(out), "--steps", "50", "--json", str(tmp_path / "m.json")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert model.read_bytes() == original
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["output"]["bond_rmsz"] < metrics["input"]["bond_rmsz"]
    assert len(read_model(out)[0][0]) == 30


def test_convergence_tells_round_to_round_scatter_from_a_trend():
    """A flat objective scattering 1 % a round (AdK's polish: fresh projections every round) stops
    within a few rounds of the ramp; one falling 3 % a round with the same scatter never does."""
    for seed in range(20):
        rng = np.random.default_rng(seed)
        settled = list(9.5 + 0.1 * rng.standard_normal(16))
        trend = [9.5 - 0.3 * k + 0.1 * rng.standard_normal() for k in range(16)]
        stops = [n for n in range(10, 17) if converged(settled[:n], 4, 0.002)]
        assert stops and stops[0] <= 13, seed
        assert not any(converged(trend[:n], 4, 0.002) for n in range(10, 17)), seed
