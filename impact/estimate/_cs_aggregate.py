"""Aggregations of group-time ATTs (Callaway & Sant'Anna 2021, section 4) and their influence functions.

Every aggregate is a weighted sum of ATT(g,t) cells. Where the weights are estimated group
shares P(G=g | cells kept), the influence function carries the weight-estimation term
(the `wif` of R's `did`), so standard errors account for the estimated weights.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KINDS = ("simple", "dynamic", "group", "calendar")


@dataclass(frozen=True)
class Aggregation:
    """Aggregated effects: one per event time / group / period (`keys`), plus the overall average.

    `weights` (rows x cells) and `overall_weights` (cells) give each aggregate as a weighted sum
    of the ATT(g,t) estimates; `inf` and `overall_inf` are the influence functions (n x rows, n).
    """

    kind: str
    keys: np.ndarray
    att: np.ndarray
    inf: np.ndarray
    weights: np.ndarray
    overall_att: float
    overall_inf: np.ndarray
    overall_weights: np.ndarray


class _Shares:
    """Group shares P(G = g) over observations, and each observation's index among the groups."""

    def __init__(self, unit_group: np.ndarray, groups: np.ndarray):
        self.groups = groups
        pos = np.searchsorted(groups, unit_group)
        pos = np.minimum(pos, groups.size - 1)
        self.obs_index = np.where(groups[pos] == unit_group, pos, groups.size)  # groups.size = "none"
        self.share = np.bincount(self.obs_index, minlength=groups.size + 1)[:-1] / unit_group.size

    def index(self, g: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.groups, g)


def _share_weighted(
    cols: np.ndarray, gidx: np.ndarray, att: np.ndarray, inf: np.ndarray, shares: _Shares
) -> tuple[float, np.ndarray, np.ndarray]:
    """Average of att[cols] weighted by the estimated share of each column's group.

    Returns (estimate, influence, weights). The influence adds the weight-estimation term:
    sum_j (1{G=g_j} - p_j) a_j / S - (sum_j (1{G=g_j} - p_j)) (sum_j p_j a_j) / S^2, S = sum_j p_j.
    """
    p = shares.share[gidx]
    s = p.sum()
    w = p / s
    a = att[cols]
    pa = p @ a
    m = shares.groups.size + 1
    a_by_group = np.bincount(gidx, weights=a, minlength=m)
    k_by_group = np.bincount(gidx, minlength=m).astype(float)
    oi = shares.obs_index
    wif = (a_by_group[oi] - pa) / s - (k_by_group[oi] - s) * pa / s**2
    return float(w @ a), inf[:, cols] @ w + wif, w


def aggregate_cells(
    kind: str,
    group: np.ndarray,
    time: np.ndarray,
    att: np.ndarray,
    inf: np.ndarray,
    unit_group: np.ndarray,
    *,
    min_e: float = -np.inf,
    max_e: float = np.inf,
    balance_e: int | None = None,
    last_period: int,
    first_period: int,
) -> Aggregation:
    """Aggregate the cells (group[k], time[k]) with estimates att[k] and influence inf[:, k]."""
    groups = np.unique(group)
    shares = _Shares(unit_group, groups)
    gidx = shares.index(group)
    e = time - group
    n_cells = att.size
    post = (e >= 0) & (e <= max_e)
    rows: list[tuple[int, float, np.ndarray, np.ndarray]] = []

    def full(cols: np.ndarray, w: np.ndarray) -> np.ndarray:
        out = np.zeros(n_cells)
        out[cols] = w
        return out

    if kind == "simple":
        cols = np.flatnonzero(post)
        est, f, w = _share_weighted(cols, gidx[cols], att, inf, shares)
        return Aggregation(kind, np.array([]), np.array([]), np.zeros((inf.shape[0], 0)), np.zeros((0, n_cells)),
                           est, f, full(cols, w))
    if kind == "group":
        for j, g in enumerate(groups):
            cols = np.flatnonzero((group == g) & post)
            if cols.size:
                w = np.full(cols.size, 1.0 / cols.size)
                rows.append((g, float(w @ att[cols]), inf[:, cols] @ w, full(cols, w)))
        keys = np.array([r[0] for r in rows])
        att_r = np.array([r[1] for r in rows])
        inf_r = np.column_stack([r[2] for r in rows])
        # Overall: group effects weighted by group shares (weights estimated, hence the extra term).
        gpos = shares.index(keys)
        est, f, w = _share_weighted(np.arange(keys.size), gpos, att_r, inf_r, shares)
        wr = np.vstack([r[3] for r in rows])
        return Aggregation(kind, keys, att_r, inf_r, wr, est, f, w @ wr)
    if kind == "dynamic":
        keep = np.ones(n_cells, dtype=bool)
        event_times = np.unique(e)
        if balance_e is not None:
            keep = last_period - group >= balance_e
            event_times = np.unique(e[keep])
            event_times = event_times[(event_times <= balance_e) & (event_times >= balance_e - (last_period - first_period))]
        event_times = event_times[(event_times >= min_e) & (event_times <= max_e)]
        for k in event_times:
            cols = np.flatnonzero(keep & (e == k))
            est, f, w = _share_weighted(cols, gidx[cols], att, inf, shares)
            rows.append((k, est, f, full(cols, w)))
        overall = event_times >= 0
    elif kind == "calendar":
        for t in np.unique(time[time >= groups.min()]):
            cols = np.flatnonzero((time == t) & (e >= 0))
            if cols.size:
                est, f, w = _share_weighted(cols, gidx[cols], att, inf, shares)
                rows.append((t, est, f, full(cols, w)))
        overall = np.ones(len(rows), dtype=bool)
    else:  # pragma: no cover - checked by the caller
        raise ValueError(kind)
    keys = np.array([r[0] for r in rows])
    att_r = np.array([r[1] for r in rows])
    inf_r = np.column_stack([r[2] for r in rows]) if rows else np.zeros((inf.shape[0], 0))
    wr = np.vstack([r[3] for r in rows]) if rows else np.zeros((0, n_cells))
    if not overall.any():
        nan = float("nan")
        return Aggregation(kind, keys, att_r, inf_r, wr, nan, np.full(inf.shape[0], nan), np.full(n_cells, nan))
    return Aggregation(
        kind, keys, att_r, inf_r, wr, float(att_r[overall].mean()), inf_r[:, overall].mean(axis=1),
        wr[overall].mean(axis=0),
    )
