"""Greedy nearest-neighbour matching on a scalar score by sorted search: O(n log n) per stratum.

Rules (the brute-force reference in the tests follows the same words):
- Focal units (treated, for the ATT) are processed in descending score, ties by row order.
- Each focal unit takes the available comparison unit in its stratum with the smallest
  |score difference|; among equally distant ones, the one that comes first in the input.
- 1:k without replacement runs k rounds: every focal unit gets its first match before any
  gets its second (as MatchIt does). A unit with no admissible match in a round (none left in
  its stratum, or the nearest is beyond the caliper) gets no further matches.
- With replacement every focal unit simply takes its k nearest comparison units.

Comparison units are sorted by (stratum, score, row) once. Without replacement the "next
available to the right/left" queries use two union-find arrays with path halving, so each
match costs near-constant time and no treated x comparison matrix is ever formed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Pairs:
    """Matches in long form: one row per (focal, comparison) pair, with the focal unit's pair id."""

    focal: np.ndarray  # row index of the focal unit
    comparison: np.ndarray  # row index of the matched comparison unit
    distance: np.ndarray  # |score difference|
    caliper_dropped: np.ndarray  # row indices of focal units left unmatched by the caliper


def _sorted_layout(score, focal, strata):
    """Sort comparison units by (stratum, score, row) and locate each focal unit in that order."""
    rows = np.arange(score.shape[0])
    comp = rows[~focal]
    order = np.lexsort((comp, score[comp], strata[comp]))
    c_rows, c_score, c_strata = comp[order], score[comp][order], strata[comp][order]
    f_rows = rows[focal]
    # Position of the first comparison unit >= focal score within the focal unit's stratum.
    pool_strata = np.concatenate([strata[f_rows], c_strata])
    pool_score = np.concatenate([score[f_rows], c_score])
    pool_is_comp = np.concatenate([np.zeros(f_rows.size, bool), np.ones(c_rows.size, bool)])
    pool_order = np.lexsort((pool_is_comp, pool_score, pool_strata))
    comps_before = np.cumsum(pool_is_comp[pool_order]) - pool_is_comp[pool_order]
    pos = np.empty(pool_order.size, dtype=np.int64)
    pos[pool_order] = comps_before
    f_pos = pos[: f_rows.size]
    # Bounds [lo, hi) of each focal unit's stratum in the sorted comparison array.
    f_str = strata[f_rows]
    lo = np.searchsorted(c_strata, f_str, side="left")
    hi = np.searchsorted(c_strata, f_str, side="right")
    # First position of each block of equal (stratum, score) among comparison units.
    new_block = np.ones(c_rows.size, bool)
    new_block[1:] = (c_score[1:] != c_score[:-1]) | (c_strata[1:] != c_strata[:-1])
    block_start = np.maximum.accumulate(np.where(new_block, np.arange(c_rows.size), 0))
    # Processing order of focal units: descending score, ties by row.
    f_order = np.lexsort((f_rows, -score[f_rows]))
    return c_rows, c_score, block_start, f_rows, f_pos, lo, hi, f_order


def nearest_pairs(
    score: np.ndarray,
    focal: np.ndarray,
    strata: np.ndarray,
    *,
    ratio: int = 1,
    replace: bool = False,
    caliper: float | None = None,
) -> Pairs:
    """Greedy k:1 nearest-neighbour matching of focal to comparison units on `score` within `strata`."""
    score = np.asarray(score, dtype=np.float64)
    c_rows, c_score, block_start, f_rows, f_pos, lo, hi, f_order = _sorted_layout(score, focal, strata)
    f_score = score[f_rows]
    cal = np.inf if caliper is None else float(caliper)
    if replace:
        fi, ci, dist, dropped = _with_replacement(c_rows, c_score, block_start, f_score, f_pos, lo, hi, ratio, cal)
    else:
        fi, ci, dist, dropped = _without_replacement(
            c_rows, c_score, block_start, f_score, f_pos, lo, hi, f_order, ratio, cal
        )
    order = np.argsort(f_rows[fi], kind="stable")  # by focal row, then in the order matched
    return Pairs(f_rows[fi][order], c_rows[ci][order], dist[order], np.sort(f_rows[dropped]))


def _without_replacement(c_rows, c_score, block_start, f_score, f_pos, lo, hi, f_order, ratio, cal):
    m = c_rows.size
    right = list(range(m + 1))  # right[i] == i  <=> position i available (m is a sentinel)
    left = list(range(m + 1))  # left[i + 1] == i + 1 <=> position i available (0 is a sentinel)
    cs = c_score.tolist()
    crow = c_rows.tolist()
    bstart = block_start.tolist()
    fs, fp, flo, fhi = f_score.tolist(), f_pos.tolist(), lo.tolist(), hi.tolist()
    out_f: list[int] = []
    out_c: list[int] = []
    out_d: list[float] = []
    active = f_order.tolist()
    dropped: list[int] = []
    for rnd in range(ratio):
        still = []
        for i in active:
            t = fs[i]
            # nearest available at or right of the insertion point
            r = fp[i]
            while right[r] != r:
                right[r] = right[right[r]]
                r = right[r]
            # nearest available left of it (shifted index: position r-1 stored at r)
            j = fp[i]
            while left[j] != j:
                left[j] = left[left[j]]
                j = left[j]
            lpos = j - 1
            has_r = r < fhi[i]
            has_l = lpos >= flo[i]
            if has_l:
                # lowest row among available units with the same score as lpos: first available in its block
                b = bstart[lpos]
                while right[b] != b:
                    right[b] = right[right[b]]
                    b = right[b]
                lpos = b
            if has_r and has_l:
                dr = cs[r] - t
                dl = t - cs[lpos]
                pick, d = (r, dr) if dr < dl or (dr == dl and crow[r] < crow[lpos]) else (lpos, dl)
            elif has_r:
                pick, d = r, cs[r] - t
            elif has_l:
                pick, d = lpos, t - cs[lpos]
            else:
                continue
            if d > cal:
                if rnd == 0:
                    dropped.append(i)
                continue
            right[pick] = pick + 1
            left[pick + 1] = pick
            out_f.append(i)
            out_c.append(pick)
            out_d.append(d)
            still.append(i)
        active = still
    return (
        np.asarray(out_f, dtype=np.int64),
        np.asarray(out_c, dtype=np.int64),
        np.asarray(out_d, dtype=np.float64),
        np.asarray(dropped, dtype=np.int64),
    )


def _with_replacement(c_rows, c_score, block_start, f_score, f_pos, lo, hi, ratio, cal):
    """k nearest comparison units per focal unit, vectorised over focal units (k two-pointer steps)."""
    n_f = f_score.size
    idx = np.arange(n_f)
    rp = f_pos.copy()  # next candidate on the right
    lp = f_pos - 1  # next candidate block on the left ...
    # ... walked block by block: within a block of equal scores, rows ascend (sorted order).
    lblk_pos = np.where(lp >= lo, block_start[np.clip(lp, 0, None)], -1)
    out_f, out_c, out_d = [], [], []
    alive = np.ones(n_f, bool)
    for rnd in range(ratio):
        has_r = rp < hi
        has_l = lp >= lo
        rr = np.clip(rp, 0, max(c_rows.size - 1, 0))
        ll = np.clip(lblk_pos, 0, None)
        dr = np.where(has_r, c_score[rr] - f_score, np.inf)
        dl = np.where(has_l, f_score - c_score[ll], np.inf)
        take_r = has_r & ((dr < dl) | ((dr == dl) & (c_rows[rr] < c_rows[ll])))
        take_l = has_l & ~take_r
        d = np.where(take_r, dr, dl)
        ok = alive & (take_r | take_l) & (d <= cal)
        if rnd == 0:
            dropped = idx[(take_r | take_l) & (d > cal)]
        alive &= ok
        pick = np.where(take_r, rr, ll)
        out_f.append(idx[ok])
        out_c.append(pick[ok])
        out_d.append(d[ok])
        # advance the pointer used
        rp = np.where(take_r, rp + 1, rp)
        # on the left: next position within the block (lp is the block's end), else the previous block
        block_done = lblk_pos >= lp
        new_lp = np.where(block_done, block_start[np.clip(lp, 0, None)] - 1, lp)
        new_blk = np.where(
            block_done,
            np.where(new_lp >= lo, block_start[np.clip(new_lp, 0, None)], -1),
            lblk_pos + 1,
        )
        lp = np.where(take_l, new_lp, lp)
        lblk_pos = np.where(take_l, new_blk, lblk_pos)
    fi, ci, dd = np.concatenate(out_f), np.concatenate(out_c), np.concatenate(out_d)
    return fi, ci, dd, dropped
