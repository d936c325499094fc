"""One device everywhere: "auto" resolved once and recorded; the GPU path checked without a GPU
(a faked CUDA check, and the map score run on PyTorch's ``meta`` device, where a tensor left on
the CPU would raise)."""
from __future__ import annotations

import pytest
import torch

from cryonb.errors import CryonbError
from cryonb.runs import begin_run, load_run
from cryonb.torch_utils import resolve_device


def test_auto_takes_cuda_when_torch_sees_it_and_cuda_is_refused_without_it(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(CryonbError, match="no CUDA device"):
        resolve_device("cuda")


def test_every_run_record_names_its_device(tmp_path):
    begin_run(tmp_path / "a", "assemble", {})
    begin_run(tmp_path / "b", "refine", {}, device="cuda")
    assert load_run(tmp_path / "a").config["device"] == "cpu"
    assert load_run(tmp_path / "b").config["device"] == "cuda"


def test_the_map_score_keeps_every_tensor_on_its_device(adk_closed):
    """Analytic projections, FRC and the backward pass on ``meta`` tensors: shapes only, but a
    tensor made on the CPU inside the score would refuse to mix with them."""
    from cryonb.density.simulate import SimulationConfig, simulate_map
    from cryonb.refinement.gmm import ModelGMM
    from cryonb.refinement.map_score import MapScore
    from cryonb.refinement.pipeline import refine_topology
    from cryonb.refinement.projection import MapProjections
    from tests.models import first_residues
    st = first_residues(adk_closed, 20)
    topo = refine_topology(st)
    xyz = topo.xyz(st)
    proj = MapProjections.compute(simulate_map(st, SimulationConfig(resolution=6.0, voxel_size=2.0)), 6.0, 8, 0)
    score = MapScore(proj, ModelGMM.from_topology(topo, xyz, 6.0), device="meta", projection="analytic")
    x = torch.as_tensor(xyz, dtype=torch.float32).to("meta").requires_grad_(True)
    batch = next(score.batches(4, 0))
    for limit in (6.0, 12.0):                 # the whole grid and a cut one
        value = score(x, batch, limit)
        assert value.device.type == "meta" and value.shape == ()
        grad, = torch.autograd.grad(value, x)
        assert grad.device.type == "meta" and grad.shape == x.shape
