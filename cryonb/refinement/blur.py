"""The model's blur matched to the map: how much of the model's B-factor spread the map shows,
and how much sharper or blurrier the map is than the model's Gaussians.

The FRC compares each Fourier ring on its own, so a global B-factor, a sharpening or a low-pass
filter of the map leaves the score unchanged (the true DIMS frame 0 in a noise-free gemmi map
blurred by B = 60 Å^2 moved 0.006 Å in map-only patches). What it does see is the blur of one atom
relative to another: the model's Gaussians are widened by each atom's B-factor above the lowest,
and a map made without B-factors (CR-I-TASSER's equation 2), or whose deposited B-factors are
not those of this map, then disagrees within every ring (the same frame in a noise-free equation-2
map moved 0.39 Å). :func:`match_blur` picks, per map, the share of the B-factor spread that fits
the map best, and measures the map's global B relative to the model for the record.

Both are weak at low resolution under noise. On the DIMS series' 8 Å maps (noise as at an
experimental map's resolution) the B-spread share barely changes the score (1 - FRC 0.1724 with
all of the spread, 0.1729 with none, on the equation-2 maps that have no B-factors, where all of
it was picked), and the noise in the outer rings adds power there, so a noisy map reads sharper
than it is (gemmi maps 325 Å^2 sharper than the Gaussians where 196 was made, equation-2 maps 263
where about 100 was).
"""
from __future__ import annotations

import numpy as np
import torch

from .gmm import spread_sigma

B_SPREAD_SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)


def set_spread(score, base_sigma: float, b: np.ndarray, share: float) -> None:
    """Give ``score``'s Gaussians the widths of ``share`` of the B spread (:func:`~.gmm.spread_sigma`)."""
    score.sigma = torch.as_tensor(spread_sigma(base_sigma, b, share), device=score.device, dtype=torch.float32)


def match_blur(score, xyz: np.ndarray, b: np.ndarray, base_sigma: float, resolution: float) -> tuple[float, str]:
    """Set ``score``'s Gaussian widths to the share of the B spread (of :data:`B_SPREAD_SHARES`) whose
    model ``xyz`` (N, 3) Å fits the map best over all cached orientations; returns the share and a note
    (with the map's B relative to the model, :func:`relative_b`)."""
    x, every = torch.as_tensor(xyz), score.all_orientations()
    values = []
    with torch.no_grad():
        for share in B_SPREAD_SHARES:
            set_spread(score, base_sigma, b, share)
            values.append(float(score(x, every, resolution)))
        best = B_SPREAD_SHARES[int(np.argmin(values))]
        set_spread(score, base_sigma, b, best)
        rel = relative_b(score, x, every, resolution)
    spread = float(np.ptp(b)) if len(b) else 0.0
    note = (f"map blur: {best:.0%} of the model's B-factor spread ({spread:.0f} Å^2) fits the map best "
            f"(1 - FRC {min(values):.4f}, all of it {values[-1]:.4f}, none {values[0]:.4f}); the map is "
            f"{'blurrier' if rel > 0 else 'sharper'} than the model's Gaussians by B = {abs(rel):.0f} Å^2 "
            "(the FRC is blind to that)")
    return best, note


def relative_b(score, x: torch.Tensor, orientations: torch.Tensor, resolution: float) -> float:
    """The map's global B (Å^2) relative to the model's Gaussians: the slope of
    ln(|F_map| / |F_model|) against -s^2 / 4 over the rings scored at ``resolution``."""
    grid = score.grid
    with torch.no_grad():
        mr, mi = score.model_projections(x, orientations)
        tr, ti = score.target[0][orientations], score.target[1][orientations]
        zeros = torch.zeros(grid.n_rings, device=score.device)
        p_model = zeros.index_add(0, score.ring, (mr ** 2 + mi ** 2).sum(0)).cpu()
        p_map = zeros.index_add(0, score.ring, (tr ** 2 + ti ** 2).sum(0)).cpu()
    rings = score.ring_indices(resolution)
    s2 = (rings / (grid.size * grid.pixel)) ** 2
    ratio = 0.5 * np.log(p_map.numpy()[rings] / np.maximum(p_model.numpy()[rings], 1e-30))
    slope = np.polyfit(-s2 / 4, ratio, 1)[0]
    return float(slope)
