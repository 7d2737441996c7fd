"""Sandwich covariance matrices for (weighted) least squares: HC1 and cluster-robust CR1.

Scores are s_i = w_i x_i e_i on the fixed-effect-demeaned regressors. Cluster sums of scores are
taken with np.bincount, one pass per regressor, so the meat costs O(n p) and no n x n object is
ever formed. Two-way clustering follows Cameron, Gelbach and Miller (2011): V = V_1 + V_2 - V_12,
with V_12 clustered on the intersection of the two dimensions.

Small-sample factors (documented in docs/explanation/did.md):
  HC1: n / (n - k);   CR1: G / (G - 1) * (n - 1) / (n - k),
with k the number of estimated parameters (regressors plus the counted fixed effects, see
`fe_dof` in `impact.estimate.ols.fit_ols`). For two-way clustering every term uses G = min(G_1, G_2),
and the t reference has min(G_1, G_2) - 1 degrees of freedom (fixest / pyfixest defaults).
"""
from __future__ import annotations

import numpy as np

from .absorb import factorize


def cluster_score_sums(x: np.ndarray, we: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """G x p matrix of per-cluster score sums  sum_{i in g} x_i w_i e_i."""
    out = np.empty((n_groups, x.shape[1]))
    for j in range(x.shape[1]):
        out[:, j] = np.bincount(codes, weights=x[:, j] * we, minlength=n_groups)
    return out


def meat_hc(x: np.ndarray, we: np.ndarray) -> np.ndarray:
    """Sum over rows of the outer products of the scores."""
    s = x * we[:, None]
    return s.T @ s


def meat_cluster(x: np.ndarray, we: np.ndarray, codes: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum over clusters of the outer products of the cluster score sums."""
    s = cluster_score_sums(x, we, codes, n_groups)
    return s.T @ s


def intersect(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense codes of the (a, b) intersection clusters."""
    nb = int(b.max()) + 1
    return factorize(a.astype(np.int64) * nb + b)


def sandwich(
    x: np.ndarray,
    we: np.ndarray,
    bread: np.ndarray,
    *,
    n_obs: int,
    k: int,
    clusters: list[tuple[np.ndarray, int]] | None = None,
) -> tuple[np.ndarray, float]:
    """Covariance matrix and the t degrees of freedom: HC1 without clusters, CR1 with one or two dimensions."""
    if not clusters:
        v = bread @ meat_hc(x, we) @ bread
        return v * n_obs / (n_obs - k), float(n_obs - k)
    sums = [cluster_score_sums(x, we, codes, ng) for codes, ng in clusters]
    if len(clusters) == 2:
        (a, _), (b, _) = clusters
        sums.append(cluster_score_sums(x, we, *intersect(a, b)))
    return cr1_from_score_sums(sums, bread, n_obs=n_obs, k=k)


def cr1_from_score_sums(sums: list[np.ndarray], bread: np.ndarray, *, n_obs: int, k: int) -> tuple[np.ndarray, float]:
    """CR1 covariance and t degrees of freedom from per-cluster score sums (G x p, one row per cluster):
    [S] for one cluster dimension, [S_1, S_2, S_12] for two (the intersection's last, subtracted).

    Only the sums are needed, so they may come from anywhere (e.g. aggregated inside Spark).
    """
    g = min(s.shape[0] for s in sums[:2])
    adj = g / (g - 1) * (n_obs - 1) / (n_obs - k)
    meat = sums[0].T @ sums[0]
    if len(sums) == 3:
        meat = meat + sums[1].T @ sums[1] - sums[2].T @ sums[2]
    return adj * (bread @ meat @ bread), float(g - 1)
