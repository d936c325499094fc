"""Model quality without the answer: the seed's eTM-score, local PCC and local confidence.

Equations 8-13 of the second seed (CR-I-TASSER, "Final model selection and model quality
estimation"), for up to five final models of one sequence:

- confidence C_m = CRscore_m / (1 + 0.05 M_tot <RMSD>_m / M_m), with M_m decoys in cluster m of
  M_tot, <RMSD>_m their mean RMSD (Å) to the cluster's combo;
- eTM_m = 0.18 + 0.82 max(C_m, max_{n != m} (TM_mn - 0.5 (1 - C_n)));
- local PCC(m, i): the correlation, over the voxels near residue i, of residue i's own density
  rho_m(y, i) with the map's share of it, rho0(y) rho_m(y, i) / sum_j rho_m(y, j);
- T(m, i) = (LPCC(m, i) + 1) / N sum_n eTM_n / (1 + (d_i(m, n) / d0)^2), d_i the distance of
  residue i between model m and model n superposed on it (TM-score superposition);
- local confidence LC(m, i) = eTM_m T(m, i) / mean_j T(m, j). The printed equation 12 reads
  T(m, i) sum_j eTM_m / T(m, j), which grows with the chain length; scaled by the mean instead, a
  model's local confidence averages to its eTM-score, the reading that keeps it on the TM scale.

>>> import numpy as np
>>> float(round(etm_scores(np.array([[1.0, 0.9], [0.9, 1.0]]), np.array([0.8, 0.3]))[1], 3))
0.836
"""
from __future__ import annotations

import numpy as np

from ..cnn.score import tm_d0
from ..maps import Map
from ..templates.density import _voxels_near, residue_sigma
from ..templates.tmscore import tm_superposition


def confidence(crscore: np.ndarray, cluster_size: np.ndarray, mean_rmsd: np.ndarray, n_decoys: int) -> np.ndarray:
    """C_m (M,) of clusters: ``crscore`` (M,) of each model against the predicted C-alphas,
    ``cluster_size`` (M,) decoys, ``mean_rmsd`` (M,) Å to the combo, of ``n_decoys`` in all."""
    size = np.maximum(np.asarray(cluster_size, dtype=np.float64), 1.0)
    return np.asarray(crscore, dtype=np.float64) / (1.0 + 0.05 * n_decoys * np.asarray(mean_rmsd) / size)


def etm_scores(tm_between: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """eTM_m (M,) from ``tm_between`` (M, M), the TM-score of model m to model n, and C_m (M,)."""
    tm = np.asarray(tm_between, dtype=np.float64)
    conf = np.asarray(conf, dtype=np.float64)
    m = len(conf)
    best = conf.copy()
    for a in range(m):
        others = [tm[a, b] - 0.5 * (1.0 - conf[b]) for b in range(m) if b != a]
        if others:
            best[a] = max(best[a], max(others))
    return 0.18 + 0.82 * best


def model_tm_matrix(models: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TM-scores (M, M) between models (M, L, 3) of one sequence (row: model superposed on column's
    frame, normalised by L) and the per-residue distances d (M, M, L) Å after that superposition."""
    models = np.asarray(models, dtype=np.float64)
    n, length = models.shape[:2]
    tm = np.ones((n, n))
    dist = np.zeros((n, n, length))
    for a in range(n):
        for b in range(n):
            if a == b:
                continue
            score, r, t = tm_superposition(models[b], models[a], length)
            tm[a, b] = score
            dist[a, b] = np.linalg.norm(models[b] @ r.T + t - models[a], axis=1)
    return tm, dist


def local_pcc(m: Map, xyz: np.ndarray, resolution: float) -> np.ndarray:
    """LPCC (L,) of each residue of the C-alpha model ``xyz`` (L, 3) Å in map ``m`` (equations 10
    and 11); NaN for a residue with fewer than 5 voxels in the box."""
    from scipy.spatial import cKDTree
    xyz = np.asarray(xyz, dtype=np.float64).reshape(-1, 3)
    sigma = residue_sigma(resolution)
    index, centres = _voxels_near(m, xyz, 2 * sigma)
    rho0 = m.data[index].astype(np.float64)
    pairs = cKDTree(centres).sparse_distance_matrix(cKDTree(xyz), 2 * sigma, output_type="coo_matrix")
    g = np.exp(-0.5 * (pairs.data / sigma) ** 2)
    total = np.bincount(pairs.row, g, minlength=len(centres))
    share = rho0[pairs.row] * g / np.maximum(total[pairs.row], 1e-12)
    return _grouped_pcc(pairs.col, g, share, len(xyz))


def _grouped_pcc(group: np.ndarray, a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Pearson correlation of ``a`` and ``b`` within each group 0..n-1 (NaN below 5 values or flat)."""
    def s(v):
        return np.bincount(group, v, minlength=n)
    count = s(np.ones_like(a))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_a, mean_b = s(a) / count, s(b) / count
        cov = s(a * b) / count - mean_a * mean_b
        var_a = s(a * a) / count - mean_a ** 2
        var_b = s(b * b) / count - mean_b ** 2
        out = cov / np.sqrt(var_a * var_b)
    out[(count < 5) | ~(var_a > 1e-12) | ~(var_b > 1e-12)] = np.nan
    return np.clip(out, -1.0, 1.0)


def local_confidence(lpcc: np.ndarray, etm: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """LC (M, L) of M models from their local PCC (M, L), eTM-scores (M,) and the per-residue
    distances (M, M, L) Å of :func:`model_tm_matrix`; a NaN local PCC counts as 0."""
    lpcc = np.nan_to_num(np.asarray(lpcc, dtype=np.float64), nan=0.0)
    etm = np.asarray(etm, dtype=np.float64)
    n, length = lpcc.shape
    d0 = tm_d0(length)
    agree = (etm[None, :, None] / (1.0 + (dist / d0) ** 2)).sum(axis=1) / n     # (M, L)
    t = (lpcc + 1.0) * agree
    return etm[:, None] * t / np.maximum(t.mean(axis=1, keepdims=True), 1e-12)
