"""Influence-function standard errors and the multiplier bootstrap for simultaneous (sup-t) bands.

Given the influence matrix `inf` (n observations x K estimates, scaled so that the estimate's
variance is sum(inf**2)/n**2), standard errors are analytical; with clusters the influence is
summed within cluster first. The multiplier bootstrap draws Mammen (1993) two-point weights per
cluster (per unit when unclustered), as R's `did` does, and returns the (level) quantile of
max_k |theta*_k - theta_k| / se_k: the critical value of a simultaneous band over the K estimates.
"""
from __future__ import annotations

import numpy as np

_SQRT5 = np.sqrt(5.0)
#: Mammen weights: values (1 -+ sqrt 5)/2 with probabilities (sqrt 5 +- 1)/(2 sqrt 5); mean 0, variance 1.
_MAMMEN_LOW, _MAMMEN_HIGH = (1 - _SQRT5) / 2, (1 + _SQRT5) / 2
_P_LOW = (_SQRT5 + 1) / (2 * _SQRT5)
_CHUNK_ELEMENTS = 2_000_000


def cluster_sums(inf: np.ndarray, cluster_code: np.ndarray | None, n_clusters: int | None) -> np.ndarray:
    """Influence summed within cluster (rows = clusters); the matrix itself when unclustered."""
    if cluster_code is None:
        return inf
    inf2 = inf.reshape(inf.shape[0], -1)
    out = np.empty((n_clusters, inf2.shape[1]))
    for k in range(inf2.shape[1]):
        out[:, k] = np.bincount(cluster_code, weights=inf2[:, k], minlength=n_clusters)
    return out.reshape((n_clusters,) + inf.shape[1:])


def std_errors(psi: np.ndarray, n: int) -> np.ndarray:
    """sqrt(sum over clusters (or units) of psi**2) / n for each column of psi."""
    return np.sqrt(np.sum(psi**2, axis=0)) / n


def sup_t_critical(psi: np.ndarray, se: np.ndarray, n: int, reps: int, seed: int | None, level: float) -> float:
    """Multiplier-bootstrap critical value for a simultaneous band over the columns of psi.

    Columns with a zero or non-finite standard error are left out of the maximum. Work is done
    in chunks of bootstrap draws so memory stays O(clusters x chunk) whatever `reps` is.
    """
    ok = np.isfinite(se) & (se > 0)
    if reps <= 0 or not ok.any():
        return float("nan")
    psi, se = psi[:, ok], se[ok]
    rng = np.random.default_rng(seed)
    g = psi.shape[0]
    chunk = max(1, _CHUNK_ELEMENTS // g)
    stats = np.empty(reps)
    done = 0
    while done < reps:
        m = min(chunk, reps - done)
        v = np.where(rng.random((m, g)) < _P_LOW, _MAMMEN_LOW, _MAMMEN_HIGH)
        stats[done : done + m] = np.max(np.abs(v @ psi / n) / se, axis=1)
        done += m
    return float(np.quantile(stats, level))
