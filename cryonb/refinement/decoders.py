"""Decoder networks: dense layers from a conformation input to model changes (the seed's design).

For one map the input is a constant vector of ones, so a trained decoder *is* the refined model;
for a model series the input is a latent coordinate. The last layer starts near zero, so every
decoder begins at the model it is given.
"""
from __future__ import annotations

import torch
from torch import nn


class Decoder(nn.Module):
    """Four dense layers: (B, n_in) -> (B, n_out), ReLU between, last layer initialised small."""

    def __init__(self, n_out: int, n_in: int = 4, hidden: int = 256, init_scale: float = 1e-3):
        super().__init__()
        self.n_in = n_in
        self.net = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, n_out))
        last = self.net[-1]
        with torch.no_grad():
            last.weight.mul_(init_scale)
            last.bias.zero_()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)

    def constant_input(self, batch: int = 1) -> torch.Tensor:
        """The input of single-model refinement: ones, (batch, n_in)."""
        p = next(self.parameters())
        return torch.ones(batch, self.n_in, dtype=p.dtype, device=p.device)
