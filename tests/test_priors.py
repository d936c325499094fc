"""Differentiable Ramachandran / rotamer priors: the mixture's maths, a real fit, and the shipped
parameters against the Top8000 tables (bars: >= 99.5 % of outlier cells stay outliers, >= 99 %
of cells agree in category) and against the validation of real AdK residues."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.func import functional_call

from cryonb import data
from cryonb.priors import PeriodicMixture, category_agreement, fit_grid, grow, load_priors
from cryonb.priors.fit import categories
from cryonb.priors.tables import BARS, ROTAMER_THRESHOLDS, rama_thresholds, rotamer_fit_types
from cryonb.validation import rama, rotamer
from cryonb.validation.dihedrals import residue_torsions
from cryonb.validation.reference_data import MetricUnavailable, top8000_dir

needs_top8000 = pytest.mark.skipif(top8000_dir() is None, reason="Top8000 tables not found "
                                   "(set CRYONB_TOP8000 to the folder holding rama/ and rotamer_grids/)")


def _or_skip(fn, *args):
    """``fn(*args)``, skipping the test (with the reason) when a Top8000 table is missing."""
    try:
        return fn(*args)
    except MetricUnavailable as exc:
        pytest.skip(str(exc))


def _mixture(k: int = 5, periods=(360.0, 180.0), dtype=torch.float64, seed: int = 0) -> PeriodicMixture:
    g = torch.Generator().manual_seed(seed)
    period = torch.tensor(periods, dtype=dtype)
    return PeriodicMixture(torch.rand(k, len(periods), generator=g, dtype=dtype) * period,
                           5 + 20 * torch.rand(k, len(periods), generator=g, dtype=dtype),
                           torch.randn(k, generator=g, dtype=dtype), period)


# --- the mixture ------------------------------------------------------------------------------

def test_gradients_match_finite_differences():
    mix = _mixture()
    x = torch.tensor([[10.0, 20.0], [-75.0, 100.0], [200.0, -30.0], [33.0, 170.0]],
                     dtype=torch.float64, requires_grad=True)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in mix.named_parameters()}

    def f(x, centres, log_width, log_amp):
        return functional_call(mix, {"centres": centres, "log_width": log_width, "log_amp": log_amp}, (x,))

    assert torch.autograd.gradcheck(f, (x, params["centres"], params["log_width"], params["log_amp"]))


def test_chunked_density_gives_the_same_values_and_gradients():
    mix = _mixture(k=40)
    x = (torch.rand(300, 2, dtype=torch.float64) * 400 - 200).requires_grad_(True)
    whole = mix.log_score(x).sum()
    gx, gc = torch.autograd.grad(whole, (x, mix.centres))
    chunked = mix.log_score(x, chunk_pairs=400).sum()            # 10 points per block
    cx, cc = torch.autograd.grad(chunked, (x, mix.centres))
    assert torch.allclose(whole, chunked) and torch.allclose(gx, cx) and torch.allclose(gc, cc)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_density_is_periodic_in_every_dimension(dtype):
    mix = _mixture(k=30, periods=(360.0, 360.0, 180.0), dtype=dtype)   # a symmetric last chi
    x = torch.rand(50, 3, dtype=dtype) * 360 - 180
    base = mix.density(x)
    assert base.dtype == dtype and base.shape == (50,)
    for d, p in enumerate((360.0, 360.0, 180.0)):
        for n in (-2, 1):
            shifted = x.clone()
            shifted[:, d] += n * p
            assert torch.allclose(mix.density(shifted), base, rtol=1e-4, atol=1e-6)
    # chi3 + 90 is not chi3 (the period is 180, not 90)
    other = x.clone()
    other[:, 2] += 90
    assert not torch.allclose(mix.density(other), base, rtol=1e-3)


def test_grid_density_equals_pointwise_density_and_files_round_trip(tmp_path):
    mix = _mixture(k=20, periods=(360.0, 360.0, 180.0))
    axes = [torch.arange(12.0) * 30 - 165, torch.arange(10.0) * 36 + 18, torch.arange(6.0) * 30 + 15]
    grid = mix.grid_density(axes)
    pts = torch.stack(torch.meshgrid(*axes, indexing="ij"), -1)
    assert torch.allclose(grid, mix.density(pts))
    mix.meta = {"name": "test", "thresholds": [0.001, 0.02]}
    mix.save(tmp_path / "m.npz")
    back = PeriodicMixture.load(tmp_path / "m.npz", dtype=torch.float64)
    assert back.meta == mix.meta
    assert torch.allclose(back.density(pts), mix.density(pts), rtol=1e-5)


# --- fitting on a real table ------------------------------------------------------------------

@needs_top8000
def test_a_short_fit_reduces_the_loss_and_growing_adds_components():
    grid = _or_skip(rama.rama_tables)["cis-pro"]
    mix, report = fit_grid(grid, 24, iterations=60, thresholds=rama_thresholds("cis-pro"))
    assert report.n_components == 24 and report.iterations == 60
    assert report.loss_end < 0.5 * report.loss_start
    again = category_agreement(mix, grid, rama_thresholds("cis-pro"))
    assert again.agreement == pytest.approx(report.agreement)
    bigger = grow(mix, grid, 8, rama_thresholds("cis-pro"))
    assert bigger.n_components == 32
    assert torch.equal(bigger.centres[:24], mix.centres)


# --- the shipped priors -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def priors():
    return load_priors()


def test_shipped_priors_cover_every_class_and_type(priors):
    assert set(priors.rama) == set(rama.TABLES)
    assert set(priors.rotamer) == set(rotamer.ROTAMERIC)
    assert priors.rotamer["TYR"] is priors.rotamer["PHE"]
    assert priors.rotamer["PRO"].ndim == 1 and priors.rotamer["ARG"].ndim == 4
    assert priors.rotamer["ASP"].period.tolist() == [360.0, 180.0]
    assert priors.rama["general"].meta["thresholds"] == [0.0005, 0.02]
    assert load_priors() is priors


@needs_top8000
@pytest.mark.parametrize("name", list(rama.TABLES))
def test_shipped_rama_priors_meet_the_bars(priors, name):
    agree = category_agreement(priors.rama[name], _or_skip(rama.rama_tables)[name], rama_thresholds(name))
    assert agree.outlier_cells >= BARS[0] and agree.agreement >= BARS[1], agree


@needs_top8000
@pytest.mark.parametrize("resname", rotamer_fit_types())
def test_shipped_rotamer_priors_meet_the_bars(priors, resname):
    grid = _or_skip(rotamer.rotamer_grid, resname)
    agree = category_agreement(priors.rotamer[resname], grid, ROTAMER_THRESHOLDS)
    assert agree.outlier_cells >= BARS[0] and agree.agreement >= BARS[1], agree


@needs_top8000
def test_shipped_priors_categorise_adk_like_the_validation(priors):
    st = data.adk_closed()
    t = residue_torsions(st)
    rama_res = _or_skip(rama.ramachandran, st, t).residues
    rot_res = _or_skip(rotamer.rotamers, st, t).residues
    same, total = 0, 0
    for r in rama_res:
        g = priors.rama[r.rama_class].density(torch.tensor([r.phi, r.psi]))
        same += int(categories(np.array([float(g)]), rama_thresholds(r.rama_class))[0]
                    == categories(np.array([r.score]), rama_thresholds(r.rama_class))[0])
    rama_same = same / len(rama_res)
    for r in rot_res:
        mix = priors.rotamer[r.resname]
        g = mix.density(torch.tensor(r.chis[:mix.ndim]))
        total += int(categories(np.array([float(g)]), ROTAMER_THRESHOLDS)[0]
                     == categories(np.array([r.score]), ROTAMER_THRESHOLDS)[0])
    rot_same = total / len(rot_res)
    assert len(rama_res) > 200 and len(rot_res) > 150
    assert rama_same >= 0.98 and rot_same >= 0.98, (rama_same, rot_same)


def test_rama_gradient_points_out_of_an_outlier_region(priors):
    """A residue at (phi, psi) = (100, 0), in the general class's outlier zone (R = 0.0002), gains
    score by following the gradient of the prior."""
    mix = priors.rama["general"]
    x = torch.tensor([[100.0, 0.0]], requires_grad=True)
    start = mix.log_score(x).sum()
    (grad,) = torch.autograd.grad(start, x)
    assert torch.isfinite(grad).all()
    moved = mix.log_score(x.detach() + 2.0 * grad / grad.norm()).sum()
    assert moved > start


# --- many residues, each with its own mixture (cryonb.priors.bank) -------------------------------

def test_residue_mixtures_score_each_residue_by_its_own_mixture_with_its_gradient():
    from cryonb.priors.bank import ResidueMixtures
    mixtures = [_mixture(k=5, seed=0), _mixture(k=9, seed=1), _mixture(k=2, periods=(360.0, 360.0), seed=2)]
    which = np.array([2, 0, 1, 1, 0, 2, 2])
    table = ResidueMixtures(mixtures, which)
    g = torch.Generator().manual_seed(3)
    x = (torch.rand(4, len(which), 2, generator=g, dtype=torch.float64) * 720 - 360).requires_grad_(True)
    s = table.log_score(x)                                        # (4 models, 7 residues)
    expected = torch.stack([mixtures[t].log_score(x[:, i]) for i, t in enumerate(which)], -1)
    assert s.shape == (4, len(which)) and torch.allclose(s, expected, atol=1e-12)
    w = torch.linspace(0.5, 2.0, s.numel(), dtype=torch.float64).reshape(s.shape)
    got, = torch.autograd.grad((s * w).sum(), x)
    want, = torch.autograd.grad((expected * w).sum(), x)
    assert torch.allclose(got, want, atol=1e-10)
    assert torch.autograd.gradcheck(lambda a: table.log_score(a), (x[:2].detach().requires_grad_(True),))


def test_residue_mixtures_widened_density_chunks_and_refuses_mixed_dimensions(monkeypatch):
    from cryonb.priors import bank
    mixtures = [_mixture(k=6, seed=4), _mixture(k=3, seed=5)]
    which = np.array([0, 1, 1, 0, 1])
    table = bank.ResidueMixtures(mixtures, which)
    x = torch.tensor([[10.0, 20.0], [-75.0, 100.0], [200.0, -30.0], [33.0, 170.0], [90.0, 90.0]],
                     dtype=torch.float64, requires_grad=True)
    rows = torch.tensor([1, 3, 4])
    got = table.widened_log_density(x[rows], 4.0, rows)
    for r, v in zip(rows.tolist(), got):        # ln sum_k a_k exp(-0.5 sum (wrap(x - mu) / (4 s))^2)
        m = mixtures[which[r]]
        q = ((bank.wrap(x[r] - m.centres, m.period) / (4.0 * m.widths)) ** 2).sum(-1)
        assert torch.isclose(v, torch.logsumexp(m.log_amp - 0.5 * q, 0))
    whole, = torch.autograd.grad(table.log_score(x).sum(), x)
    monkeypatch.setattr(bank, "CHUNK_ELEMENTS", 20)               # one residue per chunk
    chunked, = torch.autograd.grad(table.log_score(x).sum(), x)
    assert torch.allclose(whole, chunked)
    with pytest.raises(ValueError, match="dimension"):
        bank.ResidueMixtures([_mixture(periods=(360.0,)), _mixture()], [0, 1])
