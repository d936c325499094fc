"""Least-squares superposition (Kabsch) and RMSD of coordinate sets."""
from __future__ import annotations

import numpy as np


def kabsch(mobile: np.ndarray, target: np.ndarray, weights: np.ndarray | None = None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Rotation R (3, 3) and translation t (3,) minimising |mobile @ R.T + t - target|.

    mobile, target: (N, 3) Angstrom; weights: optional (N,) non-negative.
    """
    w = np.ones(len(mobile)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    cm, ct = w @ mobile, w @ target
    h = (mobile - cm).T @ ((target - ct) * w[:, None])
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    r = vt.T @ np.diag([1.0, 1.0, d]) @ u.T
    return r, ct - cm @ r.T


def superpose(mobile: np.ndarray, target: np.ndarray, mask: np.ndarray | None = None
              ) -> np.ndarray:
    """``mobile`` (..., N, 3) moved onto ``target`` (N, 3) by a fit over ``mask`` (N,) atoms."""
    mobile = np.asarray(mobile, dtype=np.float64)
    sel = slice(None) if mask is None else np.asarray(mask, dtype=bool)
    if mobile.ndim == 3:
        return np.stack([superpose(m, target, mask) for m in mobile])
    r, t = kabsch(mobile[sel], np.asarray(target, dtype=np.float64)[sel])
    return mobile @ r.T + t


def rmsd(a: np.ndarray, b: np.ndarray) -> float:
    """Root-mean-square deviation (Angstrom) between (N, 3) sets, without superposition."""
    return float(np.sqrt(((np.asarray(a) - np.asarray(b)) ** 2).sum(-1).mean()))
