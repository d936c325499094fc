"""C-alpha probability of a whole map by sliding windows (any map size, CPU or GPU).

Windows of ``window`` voxels per axis (the whole axis when it is shorter) step by ``window -
overlap``; the last one is flush with the far edge, so no padding is added and edge voxels see the
network's own zero padding, as in a single whole-map pass. Overlapping predictions are blended
with centre weights: each window's weight ramps linearly up over ``overlap`` voxels from every side
that has a neighbouring window (flat on sides at the map edge), so voxels near a window's cut edge,
whose context is cut off, count least. A map that fits one window gives exactly one whole-map pass.
"""
from __future__ import annotations

import itertools

import numpy as np
import torch

from ..density import resample
from ..maps import Map
from .dataset import normalised
from .network import ResidualNetwork


def window_starts(n: int, window: int, overlap: int) -> list[int]:
    """Start voxels of the windows along an axis of ``n`` voxels (the last one ends at ``n``)."""
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(f"need window >= 1 and 0 <= overlap < window, got {window}, {overlap}")
    if n <= window:
        return [0]
    return list(range(0, n - window, window - overlap)) + [n - window]


def axis_weights(start: int, size: int, n: int, ramp: int) -> np.ndarray:
    """(size,) blending weights of a window at ``start`` along an axis of ``n`` voxels.

    Linear from 1 / (ramp + 1) at a cut edge up to 1 after ``ramp`` voxels; 1 at the map's edges.
    """
    w = np.ones(size)
    rise = np.minimum(1.0, (np.arange(size) + 1) / (ramp + 1))
    if start > 0:
        w = np.minimum(w, rise)
    if start + size < n:
        w = np.minimum(w, rise[::-1])
    return w


def sliding_window(net: torch.nn.Module, volume: np.ndarray, window: int = 64, overlap: int = 16,
                   batch: int = 2) -> np.ndarray:
    """C-alpha probability (Z, Y, X) float32 of a (normalised) density ``volume`` (Z, Y, X).

    ``net`` maps (B, 1, z, y, x) to two-class scores; it runs in eval mode on its own device,
    ``batch`` windows at a time, and is left in the mode it came in.
    """
    shape = volume.shape
    sizes = [min(window, n) for n in shape]
    boxes = list(itertools.product(*[window_starts(n, window, overlap) for n in shape]))
    total = np.zeros(shape, dtype=np.float64)
    weight = np.zeros(shape, dtype=np.float64)
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    try:
        for k in range(0, len(boxes), batch):
            chunk = boxes[k:k + batch]
            slices = [tuple(slice(s, s + z) for s, z in zip(start, sizes)) for start in chunk]
            x = torch.from_numpy(np.stack([volume[s][None] for s in slices]).astype(np.float32))
            with torch.no_grad():
                prob = torch.softmax(net(x.to(device)), dim=1)[:, 1].cpu().numpy()
            for start, s, p in zip(chunk, slices, prob):
                w = _window_weights(start, sizes, shape, overlap)
                total[s] += w * p
                weight[s] += w
    finally:
        net.train(was_training)
    return (total / weight).astype(np.float32)


def _window_weights(start, sizes, shape, ramp) -> np.ndarray:
    wz, wy, wx = (axis_weights(s, z, n, ramp) for s, z, n in zip(start, sizes, shape))
    return wz[:, None, None] * wy[None, :, None] * wx[None, None, :]


def predict_probability(net: ResidualNetwork, m: Map, voxel_size: float, window: int = 64,
                        overlap: int = 16, batch: int = 2) -> Map:
    """C-alpha probability of map ``m`` on its own grid.

    voxel_size: the network's training voxel size (Å); a map on another voxel size is resampled
    to it (cubic B-spline, low-passed first at the new Nyquist limit when it is coarser), predicted,
    and the probabilities interpolated (linear) back onto the input grid. The density is normalised
    to zero mean and unit SD first, as in training.
    """
    same = np.allclose(m.voxel_size, voxel_size, rtol=0.02)
    work = m if same else resample(m, voxel_size, antialias=True)
    prob = sliding_window(net, normalised(work).data, window, overlap, batch)
    out = work.copy(data=prob)
    if not same:
        out = resample(out, m.voxel_size, shape=m.shape, origin=m.origin, order=1)
        out.data = np.clip(out.data, 0.0, 1.0)
    out.path = None
    return out
