"""Latent-conditioned decoders of a model series: shapes, batching and trajectory sampling."""
from __future__ import annotations

import numpy as np
import torch

from cryonb.geometry.chi import ChiTree
from cryonb.restraints.loss import GeometryLoss
from cryonb.geometry.library import RestraintLibrary
from cryonb.geometry.topology import build_topology
from cryonb.perturb import jitter
from cryonb.refinement.rigid import move_groups
from cryonb.refinement.stages import Morph
from cryonb.series.model import LatentScale, SeriesModel
from cryonb.series.train import trajectory_grid, trajectory_points, worst_latents


def test_fresh_stages_start_at_the_base_model_for_every_latent(adk_closed):
    topo = build_topology(adk_closed, warn=False)
    x0 = topo.xyz(adk_closed)
    latents = np.array([[0.0, 5.0], [1.0, 7.0], [0.5, 6.0]])
    model = SeriesModel(torch.as_tensor(x0), LatentScale.fit(latents))
    assert np.allclose(model.scale(latents).numpy(), [[-1, -1], [1, 1], [0, 0]])
    for kind in ("patches", "residues"):
        model.stages.append(model.new_stage(kind, topo, n_patches=8))
    xyz = model.models(latents)
    assert xyz.shape == (3, len(x0), 3)
    assert np.abs(xyz - x0).max() < 0.05                    # last layers start near zero
    assert np.abs(xyz[0] - xyz[1]).max() > 0                # but already depend on the latent


def test_a_residue_stage_with_chis_moves_residues_rigidly_and_turns_each_chi_by_its_output(adk_closed):
    """Residue stage of a series: each residue a rigid body, then side-chain turns; every
    intra-residue backbone distance is kept and each chi changes by rotation_scale x its output."""
    topo = build_topology(adk_closed, warn=False)
    base = torch.as_tensor(topo.xyz(adk_closed))
    tree = ChiTree(topo)
    morph = Morph("residues", topo, base, chi_tree=tree)
    assert morph.n_out == 6 * len(topo.residues) + tree.n
    out = torch.randn(2, morph.n_out, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    moved = morph.move(base.expand(2, *base.shape), out)
    turned = torch.rad2deg(morph.rotation_scale * out[:, morph.n_move:])
    change = (tree.chi_deg(moved) - tree.chi_deg(base) - turned + 180.0) % 360.0 - 180.0
    assert change.abs().max() < 1e-6
    bb = np.isin(topo.atoms.names, ["N", "CA", "C", "O"])
    res = topo.atoms.residue
    for r in (0, 50, 120):
        idx = torch.as_tensor(np.flatnonzero(bb & (res == r)))
        for m in moved:
            assert torch.allclose(torch.cdist(m[idx], m[idx]), torch.cdist(base[idx], base[idx]), atol=1e-9)
    assert (moved[0][torch.as_tensor(bb)] - base[torch.as_tensor(bb)]).norm(dim=-1).min() > 1e-3   # all moved


def test_batched_rigid_moves_match_one_model_at_a_time():
    gen = torch.Generator().manual_seed(0)
    xyz = torch.randn(2, 30, 3, generator=gen, dtype=torch.float64) * 5
    group = torch.arange(30) % 4
    centre = torch.randn(2, 4, 3, generator=gen, dtype=torch.float64)
    rot, shift = torch.randn(2, 4, 3, generator=gen) * 0.3, torch.randn(2, 4, 3, generator=gen)
    both = move_groups(xyz, group, centre, rot.double(), shift.double())
    for b in range(2):
        one = move_groups(xyz[b], group, centre[b], rot[b].double(), shift[b].double())
        assert torch.allclose(both[b], one)


def test_trajectory_points_lie_on_the_polyline_uniformly_by_length():
    z = torch.tensor([[0.0, 0.0], [3.0, 0.0], [3.0, 1.0]])   # legs of length 3 and 1
    p = trajectory_points(z, 4000, np.random.default_rng(0)).numpy()
    on_first = np.isclose(p[:, 1], 0) & (p[:, 0] >= 0) & (p[:, 0] <= 3)
    on_second = np.isclose(p[:, 0], 3) & (p[:, 1] >= 0) & (p[:, 1] <= 1)
    assert np.all(on_first | on_second)
    assert abs(on_first.mean() - 0.75) < 0.03


def test_trajectory_grid_is_even_by_length_and_keeps_both_ends():
    z = torch.tensor([[0.0, 0.0], [3.0, 0.0], [3.0, 1.0]])
    g = trajectory_grid(z, 9).numpy()
    assert np.allclose(g[0], [0, 0]) and np.allclose(g[-1], [3, 1]) and np.allclose(g[7], [3, 0.5])
    assert np.allclose(np.linalg.norm(np.diff(g, axis=0), axis=1), 0.5)


def test_worst_latents_are_where_the_path_has_ramachandran_outliers(adk_closed):
    """Models clean below z = 0.25, jittered by 0.3 Å up to 0.75 and by 1 Å beyond: the two grid
    latents of the 1 Å band (0.875 and 1) come first, the next from the 0.3 Å band."""
    topo = build_topology(adk_closed, warn=False)
    x0 = torch.as_tensor(topo.xyz(adk_closed))
    small, large = (torch.as_tensor(topo.xyz(jitter(adk_closed, s, seed=3))) - x0 for s in (0.3, 1.0))

    def model(z):
        band = z[:, :1, None]
        return x0 + (band > 0.25) * (band <= 0.75) * small + (band > 0.75) * large

    geo = GeometryLoss(topo, RestraintLibrary(), x0.numpy(), refresh_every=0)
    bands = torch.stack([x0, x0 + small, x0 + large])
    geo.refresh(bands, every_model=True)
    rama, clash = geo.rama.outliers(bands).tolist(), geo.clash.count(bands).tolist()
    assert rama[0] < rama[1] < rama[2] and clash[0] < clash[1] < clash[2]
    grid = trajectory_grid(torch.tensor([[0.0], [1.0]], dtype=torch.float64), 9)
    worst = worst_latents(model, geo, grid, 3).numpy()[:, 0]
    assert np.all(worst[:2] > 0.75) and 0.25 < worst[2] <= 0.75
    assert len(worst_latents(model, geo, grid, 0)) == 0


def test_clash_list_of_a_batch_is_the_union_of_its_models(adk_closed):
    topo = build_topology(adk_closed, warn=False)
    x0 = topo.xyz(adk_closed)
    moved = topo.xyz(jitter(adk_closed, 1.0, seed=1))
    geo = GeometryLoss(topo, RestraintLibrary(), x0, cdl=False, refresh_every=0)
    batch = torch.as_tensor(np.stack([x0, moved]))
    pairs = []
    for x in batch:
        geo.refresh(x)
        pairs.append({tuple(p) for p in geo.clash.pairs.tolist()})
    geo.refresh(batch, every_model=True)
    union = {tuple(p) for p in geo.clash.pairs.tolist()}
    assert union == pairs[0] | pairs[1] and len(union) > max(map(len, pairs))
