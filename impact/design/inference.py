"""Variance estimators shared by the designs' effect estimates.

- `wls_cluster`: weighted least squares with the CR1 cluster-robust variance
  (Stata/statsmodels small-sample factor G/(G-1) * (N-1)/(N-K); with one row per cluster it is HC1).
- `sandwich`: the M-estimation variance A^-1 B A^-T of stacked estimating equations, used when the
  weights themselves are estimated (IPW, entropy balancing, AIPW), with per-cluster score sums.
"""
from __future__ import annotations

import numpy as np
from scipy import linalg

from ..errors import EstimationError


def cluster_codes(clusters: np.ndarray | None, n: int) -> tuple[np.ndarray, int]:
    """Integer codes 0..G-1 for cluster labels (each row its own cluster when None)."""
    if clusters is None:
        return np.arange(n), n
    _, codes = np.unique(clusters, return_inverse=True)
    return codes.ravel(), int(codes.max()) + 1 if codes.size else 0


def cluster_sums(scores: np.ndarray, codes: np.ndarray, G: int) -> np.ndarray:
    """Sum the rows of `scores` (n, k) within clusters: (G, k)."""
    if G == scores.shape[0] and np.array_equal(codes, np.arange(G)):
        return scores
    return np.column_stack([np.bincount(codes, weights=scores[:, j], minlength=G) for j in range(scores.shape[1])])


def wls_cluster(y: np.ndarray, Z: np.ndarray, w: np.ndarray, clusters: np.ndarray | None):
    """WLS coefficients, CR1 covariance and number of clusters G (rows must have w > 0)."""
    sw = np.sqrt(w)
    Zw = Z * sw[:, None]
    beta, *_ = linalg.lstsq(Zw, y * sw, lapack_driver="gelsy")
    resid = y - Z @ beta
    ZtWZ = Zw.T @ Zw
    try:
        bread = linalg.inv(ZtWZ)
    except linalg.LinAlgError:
        raise EstimationError("effect: the regressors are collinear in the matched/weighted sample") from None
    codes, G = cluster_codes(clusters, y.size)
    if G < 2:
        raise EstimationError("effect: cluster-robust standard errors need at least 2 clusters; got 1")
    S = cluster_sums(Z * (w * resid)[:, None], codes, G)
    n, k = Z.shape
    factor = G / (G - 1) * (n - 1) / (n - k)
    return beta, factor * bread @ (S.T @ S) @ bread, G


def sandwich(psi: np.ndarray, jac: np.ndarray, clusters: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Variance of M-estimates: jac = sum_i d psi_i / d theta (q, q); psi (n, q) at the estimate."""
    codes, G = cluster_codes(clusters, psi.shape[0])
    S = cluster_sums(psi, codes, G)
    Ainv = linalg.inv(jac)
    factor = G / (G - 1) if G > 1 else float("nan")
    return factor * Ainv @ (S.T @ S) @ Ainv.T, G
