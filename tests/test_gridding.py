"""Gridded GMM projections (cryonb.refinement.gridding) against the analytic ones."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import cryonb.refinement.gridding as gridding
from cryonb.density.simulate import SimulationConfig, simulate_map
from cryonb.refinement.gmm import ModelGMM, b_factors
from cryonb.refinement.gridding import (GriddingPlan, choose_projection, gridded_projections, gridding_classes,
                                        smooth_size)
from cryonb.refinement.map_score import MapScore
from cryonb.refinement.pipeline import refine_topology
from cryonb.refinement.projection import FourierGrid, MapProjections, gmm_projections, random_rotations
from tests.models import first_residues

pytestmark = pytest.mark.usefixtures("one_thread")


def _atoms(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    xyz = torch.as_tensor(rng.normal(0.0, 12.0, (n, 3)) + 40.0)
    amplitude = torch.as_tensor(rng.uniform(2.0, 5.0, n))
    sigma = torch.as_tensor(rng.uniform(0.9, 1.6, n))
    return xyz, amplitude, sigma


def _both(xyz, amplitude, sigma, grid, rotations, centre, classes):
    """Coefficients and a projected gradient of the analytic and the gridded projections."""
    out = []
    weights = None
    for fn, kw in ((gmm_projections, {}), (gridded_projections, {"classes": classes})):
        x = xyz.clone().requires_grad_(True)
        real, imag = fn(x, amplitude, sigma, rotations, centre, grid, **kw)
        if weights is None:
            weights = torch.randn(real.shape, generator=torch.Generator().manual_seed(1), dtype=real.dtype)
        ((real * weights).sum() - (imag * weights).sum()).backward()
        out.append((real.detach(), imag.detach(), x.grad))
    return out


@pytest.mark.parametrize("tol", [1e-3, 1e-5, 1e-7])
def test_gridded_coefficients_and_gradient_match_the_analytic_ones_to_the_tolerance(tol):
    xyz, amplitude, sigma = _atoms(400)
    grid = FourierGrid.build(1.6, 60, 4.0)
    rotations = torch.as_tensor(random_rotations(3, 1))
    centre = torch.tensor([40.0, 41.0, 39.0], dtype=torch.float64)
    classes = gridding_classes(grid, sigma.numpy(), tol)
    assert len(classes) == 3                                       # widths 0.9-1.6 Å in steps of 1.3
    (ar, ai, ag), (gr, gi, gg) = _both(xyz, amplitude, sigma, grid, rotations, centre, classes)
    scale = float(torch.sqrt((ar ** 2 + ai ** 2).mean()))
    error = max(float((ar - gr).abs().max()), float((ai - gi).abs().max())) / scale
    assert error < 10 * tol
    assert float((ag - gg).abs().max() / ag.abs().max()) < 10 * tol
    assert error > tol / 1e4              # the comparison is not of a function with itself


def test_atoms_beyond_the_period_wrap_and_leading_dimensions_are_kept():
    xyz, amplitude, sigma = _atoms(50, seed=2)
    grid = FourierGrid.build(1.5, 24, 4.0)                         # period 36 Å, atoms spread over ~100 Å
    rotations = torch.as_tensor(random_rotations(2, 3))
    centre = torch.tensor([40.0, 40.0, 40.0], dtype=torch.float64)
    frames = torch.stack([xyz, xyz + torch.tensor([3.0, -2.0, 1.0], dtype=torch.float64)])   # (2, N, 3)
    classes = gridding_classes(grid, sigma.numpy(), 1e-6)
    real, imag = gridded_projections(frames, amplitude, sigma, rotations, centre, grid, classes)
    ar, ai = gmm_projections(frames, amplitude, sigma, rotations, centre, grid)
    assert real.shape == ar.shape == (2, 2, len(grid.kx))
    assert torch.allclose(real, ar, atol=1e-5 * float(ar.abs().max()))
    assert torch.allclose(imag, ai, atol=1e-5 * float(ai.abs().max()))


def test_chunking_the_atoms_changes_nothing(monkeypatch):
    xyz, amplitude, sigma = _atoms(300, seed=4)
    grid = FourierGrid.build(1.6, 60, 4.0)
    rotations = torch.as_tensor(random_rotations(2, 0))
    centre = torch.tensor([40.0, 40.0, 40.0], dtype=torch.float64)
    results = []
    for elements in (gridding.CHUNK_ELEMENTS, 5000):
        monkeypatch.setattr(gridding, "CHUNK_ELEMENTS", elements)
        x = xyz.clone().requires_grad_(True)
        real, imag = gridded_projections(x, amplitude, sigma, rotations, centre, grid)
        (real.sum() + 2 * imag.sum()).backward()
        results.append((real.detach(), x.grad))
    assert torch.allclose(results[0][0], results[1][0], rtol=1e-10, atol=1e-9)
    assert torch.allclose(results[0][1], results[1][1], rtol=1e-10, atol=1e-9)


@pytest.fixture(scope="module")
def fragment_in_map(adk_closed):
    st = first_residues(adk_closed, 60)
    topo = refine_topology(st)
    m = simulate_map(st, SimulationConfig(resolution=4.0, voxel_size=1.2))
    return topo, topo.xyz(st), b_factors(topo, st), MapProjections.compute(m, 4.0, 12, 0)


def test_map_score_and_its_gradient_agree_between_the_two_projections(fragment_in_map):
    topo, xyz, b, proj = fragment_in_map
    moved = xyz + np.random.default_rng(0).normal(0.0, 0.5, xyz.shape)
    values = {}
    for method in ("analytic", "gridding"):
        score = MapScore(proj, ModelGMM.from_topology(topo, xyz, 4.0, b), projection=method)
        assert score.method == method
        x = torch.as_tensor(moved).requires_grad_(True)
        value = score(x, score.all_orientations(), 4.0)
        value.backward()
        values[method] = (float(value.detach()), x.grad.numpy().copy())
    (va, ga), (vg, gg) = values["analytic"], values["gridding"]
    assert 0.05 < va < 1.0
    assert abs(va - vg) < 1e-4 * va
    assert np.abs(ga - gg).max() < 1e-3 * np.abs(ga).max()


def test_auto_takes_analytic_for_a_small_model_and_gridding_for_a_large_box():
    small = FourierGrid.build(1.5, 50, 5.0)              # 75 Å box
    large = FourierGrid.build(1.5, 200, 3.0)             # 300 Å box at 3 Å
    assert choose_projection(small, np.linspace(1.1, 1.6, 1500)) == "analytic"
    assert choose_projection(large, np.linspace(0.7, 1.4, 50_000)) == "gridding"
    assert choose_projection(large, np.linspace(0.7, 1.4, 50_000), "analytic") == "analytic"
    with pytest.raises(ValueError, match="projection method"):
        choose_projection(small, np.ones(10), "nufft")
    coarse = FourierGrid.build(8 / 3, 60, 8.0)                # a 160 Å box at 8 Å with a wide B spread:
    assert choose_projection(coarse, np.linspace(1.8, 4.0, 20_000)) == "analytic"     # analytic is cheaper,
    assert choose_projection(coarse, np.linspace(1.8, 4.0, 165_000)) == "gridding"   # but its tables pass 2 GB


def test_fft_sizes_have_only_small_prime_factors():
    assert [smooth_size(n) for n in (1, 7, 11, 97, 121, 241)] == [1, 8, 12, 100, 125, 243]
    plan = GriddingPlan.build(FourierGrid.build(1.5, 64, 4.0), 0.9, 1.5)
    assert smooth_size(plan.n) == plan.n and plan.n * plan.pixel == pytest.approx(96.0)
    with pytest.raises(ValueError):
        GriddingPlan.build(FourierGrid.build(1.5, 64, 4.0), 1.5, 0.9)


def test_width_classes_cover_every_atom_once_and_span_at_most_the_ratio():
    sigma = np.random.default_rng(5).uniform(0.7, 2.5, 2000)
    grid = FourierGrid.build(1.5, 64, 3.0)
    classes = gridding_classes(grid, sigma)
    one = GriddingPlan.build(grid, sigma.min(), sigma.max())
    idx = np.concatenate([i for _, i in classes])
    assert np.array_equal(np.sort(idx), np.arange(2000))
    for plan, i in classes:
        assert sigma[i].max() / sigma[i].min() <= gridding.CLASS_RATIO + 1e-9
        assert plan.sigma_min == sigma[i].min() and plan.footprint < one.footprint


def test_freed_memory_is_kept_for_reuse_on_linux():
    import platform

    from cryonb.torch_utils import reuse_freed_memory
    assert reuse_freed_memory() is (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
    assert reuse_freed_memory() == reuse_freed_memory()


def test_scores_without_gradients_come_in_chunks_and_equal_one_pass(fragment_in_map, monkeypatch):
    import cryonb.refinement.map_score as map_score
    topo, xyz, b, proj = fragment_in_map
    score = MapScore(proj, ModelGMM.from_topology(topo, xyz, 4.0, b), projection="analytic")
    x, every = torch.as_tensor(xyz), score.all_orientations()
    with torch.no_grad():
        one = score.frc(x, every)
        monkeypatch.setattr(map_score, "EVALUATION_CHUNK", 5)
        chunked = score.frc(x, every)
    assert chunked.shape == one.shape == (12, proj.grid.n_rings)
    assert torch.allclose(one, chunked, atol=1e-6)


def test_central_slices_agree_with_projecting_the_rotated_map(adk_closed):
    m = simulate_map(adk_closed, SimulationConfig(resolution=5.0, voxel_size=1.5))
    slices = MapProjections.compute(m, 5.0, 6, 0, period=1.0, method="slices")
    spline = MapProjections.compute(m, 5.0, 6, 0, period=1.0, method="spline")
    a, b = spline.coeffs, slices.coeffs
    b = b * (np.vdot(b, a).real / np.vdot(b, b).real)              # the two differ by a constant scale
    ring = slices.grid.ring
    error = [np.linalg.norm(a[:, ring == r] - b[:, ring == r]) / np.linalg.norm(a[:, ring == r])
             for r in range(1, slices.grid.n_rings)]
    assert max(error[:-1]) < 0.03 and error[-1] < 0.1           # the spline attenuates the outermost ring
    with pytest.raises(ValueError, match="slices"):
        MapProjections.compute(m, 5.0, 2, 0, method="fourier")


def test_new_widths_renew_the_gridding_classes(fragment_in_map):
    topo, xyz, b, proj = fragment_in_map
    score = MapScore(proj, ModelGMM.from_topology(topo, xyz, 4.0, b), projection="gridding")
    x, every = torch.as_tensor(xyz), score.all_orientations()
    with torch.no_grad():
        before = score.frc(x, every)
        score.sigma = score.sigma * 1.5
        wider = score.frc(x, every)
        fresh = MapScore(proj, ModelGMM.from_topology(topo, xyz, 4.0, b), projection="gridding")
        fresh.sigma = score.sigma.clone()
        assert torch.allclose(wider, fresh.frc(x, every), atol=1e-6)
    assert not torch.allclose(before, wider, atol=1e-3)


@pytest.mark.parametrize("method", ["analytic", "gridding"])
def test_a_coarse_limit_scores_only_the_rings_it_needs_and_the_same(fragment_in_map, method):
    """At a resolution limit coarser than the grid's, the score is taken on the grid cut to the
    scored rings (the analytic form's cost falls with the frequencies, gridding draws on coarser
    pixels): the same value and gradient as scoring every kept frequency and dropping the finer
    rings (gridding: to its tolerance, as between the two methods)."""
    topo, xyz, b, proj = fragment_in_map
    score = MapScore(proj, ModelGMM.from_topology(topo, xyz, 4.0, b), projection=method)
    moved = torch.as_tensor(xyz + np.random.default_rng(1).normal(0.0, 0.5, xyz.shape))
    batch = score.all_orientations()
    for limit in (12.0, 7.0):
        idx = score.rings(limit)
        cut, full = moved.clone().requires_grad_(True), moved.clone().requires_grad_(True)
        value = score(cut, batch, limit)
        reference = 1.0 - score.frc(full, batch)[..., idx].mean()
        g_cut, = torch.autograd.grad(value, cut)
        g_full, = torch.autograd.grad(reference, full)
        grid, keep = proj.grid.within(int(idx.max()))
        assert len(keep) < len(proj.grid.kx) and set(grid.ring.tolist()) == set(range(int(idx.max()) + 1))
        value_tol, grad_tol = (1e-5, 1e-4) if method == "analytic" else (1e-4, 1e-3)
        assert abs(float(value) - float(reference)) < value_tol * float(reference)
        assert float((g_cut - g_full).abs().max()) < grad_tol * float(g_full.abs().max())
    if method == "gridding":
        full_plan, cut_plan = score._classes[None][0][0], score._classes[int(score.rings(12.0).max())][0][0]
        assert cut_plan.n < full_plan.n and cut_plan.pixel > full_plan.pixel


def test_a_limit_coarser_than_the_box_allows_starts_at_the_coarsest_scorable_one(fragment_in_map):
    """A coarse-to-fine stage starting at 40 Å in a small box (5PTI's ~50 Å) once raised 'no
    Fourier rings': the limit is taken no coarser than the box scores two rings at."""
    from cryonb.refinement.map_score import MIN_RINGS
    topo, xyz, b, proj = fragment_in_map
    score = MapScore(proj, ModelGMM.from_topology(topo, xyz, 4.0, b))
    period = proj.grid.size * proj.grid.pixel
    assert score.coarsest_limit == pytest.approx(period / (MIN_RINGS + 0.5))
    coarse = score.ring_indices(2 * period)
    assert coarse.tolist() == score.ring_indices(score.coarsest_limit).tolist() and len(coarse) >= 1
    value = score(torch.as_tensor(xyz), score.all_orientations(), 2 * period)
    assert 0.0 <= float(value) < 1.0
