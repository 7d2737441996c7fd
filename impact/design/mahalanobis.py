"""Greedy nearest-neighbour matching on the Mahalanobis distance between covariate vectors.

Covariates are whitened with the pooled within-group covariance (MatchIt's default scaling),
so Euclidean distance on the whitened data is the Mahalanobis distance; a KD-tree per exact
stratum answers k-nearest queries in O(log n). Focal units are processed in row order; each
takes the available comparison unit at the smallest distance, ties to the first in row order.
A candidate list from the tree is trusted only up to its largest distance (a tie at that
distance could hide an earlier row), so lists are enlarged until the choice is certain.
"""
from __future__ import annotations

import numpy as np
from sklearn.neighbors import KDTree

from .nearest import Pairs


def whiten(X: np.ndarray, focal: np.ndarray) -> np.ndarray:
    """X transformed so that Euclidean distance equals Mahalanobis distance (pooled within-group covariance;
    directions with no variance are dropped, i.e. a pseudo-inverse)."""
    S = np.zeros((X.shape[1], X.shape[1]))
    dof = 0
    for g in (focal, ~focal):
        if g.sum() > 1:
            Xg = X[g] - X[g].mean(axis=0)
            S += Xg.T @ Xg
            dof += g.sum() - 1
    S /= max(dof, 1)
    vals, vecs = np.linalg.eigh(S)
    keep = vals > 1e-10 * max(vals.max(), 1e-300)
    return X @ (vecs[:, keep] / np.sqrt(vals[keep]))


def _sorted_candidates(tree: KDTree, x: np.ndarray, k: int, rows: np.ndarray):
    """The k nearest (distance, comparison index) sorted by distance then row."""
    dist, ind = tree.query(x[None, :], k=k)
    dist, ind = dist[0], ind[0]
    order = np.lexsort((rows[ind], dist))
    return dist[order], ind[order]


def mahalanobis_pairs(
    X: np.ndarray, focal: np.ndarray, strata: np.ndarray, *, ratio: int, replace: bool, caliper: float | None
) -> Pairs:
    """Greedy k:1 Mahalanobis matching within strata (see module docstring for the rules)."""
    W = whiten(X, focal)
    cal = np.inf if caliper is None else caliper
    out_f, out_c, out_d, dropped = [], [], [], []
    for s in np.unique(strata[focal]):
        f_rows = np.flatnonzero(focal & (strata == s))
        c_rows = np.flatnonzero(~focal & (strata == s))
        if c_rows.size == 0:
            continue
        tree = KDTree(W[c_rows])
        used = np.zeros(c_rows.size, bool)
        active = list(f_rows)
        for rnd in range(ratio):
            still = []
            for i in active:
                k = min(c_rows.size, ratio + 8 if not replace else ratio + 1)
                while True:
                    dist, ind = _sorted_candidates(tree, W[i], k, c_rows)
                    ok = ~used[ind] if not replace else np.ones(ind.size, bool)
                    if replace:
                        ok[:rnd] = False  # with replacement: the rnd-th nearest in this round
                    complete = k == c_rows.size
                    if ok.any():
                        j = int(np.argmax(ok))
                        if complete or dist[j] < dist[-1]:
                            break
                    elif complete:
                        j = -1
                        break
                    k = min(c_rows.size, 2 * k)
                if j < 0:
                    continue
                if dist[j] > cal:
                    if rnd == 0:
                        dropped.append(i)
                    continue
                if not replace:
                    used[ind[j]] = True
                out_f.append(i)
                out_c.append(int(c_rows[ind[j]]))
                out_d.append(float(dist[j]))
                still.append(i)
            active = still
    f = np.asarray(out_f, dtype=np.int64)
    order = np.argsort(f, kind="stable")
    return Pairs(f[order], np.asarray(out_c, dtype=np.int64)[order], np.asarray(out_d)[order],
                 np.sort(np.asarray(dropped, dtype=np.int64)))
