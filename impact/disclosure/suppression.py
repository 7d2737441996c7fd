"""Secondary (complementary) suppression of a count table so no suppressed value can be back-solved.

Model of the intruder: they know every released inner cell and every margin (row totals,
column totals, grand total) that is itself safe to release, whether or not this table shows
it, because totals usually appear in another output. Margins that are unsafe counts are
suppressed like cells. A suppressed item is protected when its value is not determined by
what is known: its minimum and maximum over all non-negative completions differ.

The constraint matrix (cells, row sums, column sums, grand total) is the incidence matrix of
two laminar families, hence totally unimodular, so the LP bounds found by HiGHS are the
integer bounds: min < max over real completions iff it holds over integer completions.

Algorithm (deterministic): (1) every released margin holding exactly one suppressed cell, or
suppressed cells whose known sum is itself an unsafe count (e.g. 3 + 4 = 7 < 10), gets one
more, the smallest unsuppressed cell (ties: first in row-major order); (2) each
suppressed item, in order, is checked by LP; while it is determined, the smallest related
unsuppressed item (same row or column; for a margin, the other margins of its family, the
grand total and its own cells) is suppressed. Suppression only enlarges the feasible set, so
an item once protected stays protected. Steps 1 and 2 repeat until neither adds anything.
If no candidate is left the item is unprotected.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

_CELL, _ROW, _COL, _TOTAL = 0, 1, 2, 3


@dataclass(frozen=True)
class Protection:
    """Outcome of secondary suppression on an R x C count table."""

    suppressed: np.ndarray  # bool (R, C): primary or secondary
    secondary: np.ndarray  # bool (R, C): added to protect others
    row_totals: np.ndarray  # bool (R,): row margins that must not be released
    col_totals: np.ndarray  # bool (C,): column margins that must not be released
    total: bool  # the grand total must not be released
    unprotected: np.ndarray  # bool (R, C): suppressed cells still determined
    protected: bool  # every suppressed cell and withheld margin is undetermined


@dataclass
class _Items:
    """Every releasable quantity of the table as a 0/1 support over the flattened cells."""

    kind: list[int]
    pos: list[int]  # cell: flat index; row: i; col: j; total: 0
    support: list[np.ndarray]
    value: np.ndarray


def _items(counts: np.ndarray) -> _Items:
    r, c = counts.shape
    flat = np.arange(r * c).reshape(r, c)
    kind = [_CELL] * (r * c)
    pos = list(range(r * c))
    support = [np.array([k]) for k in range(r * c)]
    if c >= 2:  # with one column the row totals are the cells themselves
        kind += [_ROW] * r
        pos += list(range(r))
        support += [flat[i] for i in range(r)]
    if r >= 2:
        kind += [_COL] * c
        pos += list(range(c))
        support += [flat[:, j] for j in range(c)]
    if r >= 2 and c >= 2:  # otherwise the single row or column total is the grand total
        kind.append(_TOTAL)
        pos.append(0)
        support.append(flat.ravel())
    x = counts.ravel()
    value = np.array([x[s].sum() for s in support], dtype=np.int64)
    return _Items(kind, pos, support, value)


def protect(counts: np.ndarray, primary: np.ndarray, unsafe_margin: np.ndarray) -> Protection:
    """Add complementary suppressions to `primary` (bool R x C) until no suppressed cell or
    suppressed margin is determined by the released cells and safe margins.

    `unsafe_margin(values)` is the primary rule for margins (same as for cells).
    """
    counts = np.asarray(counts, dtype=np.int64)
    r, c = counts.shape
    items = _items(counts)
    n_cells = r * c
    sup = np.zeros(len(items.kind), bool)
    sup[:n_cells] = primary.ravel()
    margins = np.arange(n_cells, len(items.kind))
    sup[margins] = unsafe_margin(items.value[margins])
    failed = np.zeros(len(sup), bool)
    checked = np.zeros(len(sup), bool)
    while _pair_up(items, sup, n_cells, unsafe_margin) or (sup & ~checked).any():
        order = list(np.flatnonzero(sup & ~checked))
        while order:
            s = order[0]
            if not _determined(s, items, sup, counts.ravel()):
                checked[order.pop(0)] = True
                continue
            cand = _candidates(s, items, sup, r, c)
            if cand is None:
                failed[s] = checked[s] = True
                order.pop(0)
                continue
            sup[cand] = True
            order.append(cand)
    cells = sup[:n_cells].reshape(r, c)
    mrow, mcol, mtot = _margin_flags(items, sup, r, c)
    return Protection(
        suppressed=cells,
        secondary=cells & ~primary,
        row_totals=mrow,
        col_totals=mcol,
        total=mtot,
        unprotected=failed[:n_cells].reshape(r, c),
        protected=not failed.any(),
    )


def _pair_up(items: _Items, sup: np.ndarray, n_cells: int, unsafe: Any) -> bool:
    """Cheap pass: no released margin may hold exactly one suppressed cell, nor suppressed cells
    whose sum (released margin minus released cells, so known exactly) is an unsafe count.
    Returns whether anything was added."""
    added, changed = False, True
    while changed:
        changed = False
        for m in range(n_cells, len(items.kind)):
            s = items.support[m]
            hidden = s[sup[s]]
            if sup[m] or hidden.size == 0:
                continue
            if hidden.size > 1 and not unsafe(np.array([items.value[hidden].sum()]))[0]:
                continue
            free = s[~sup[s]]
            if free.size:
                sup[_smallest(free, items.value)] = True
                changed = added = True
    return added


def _smallest(candidates: np.ndarray, value: np.ndarray) -> int:
    """The candidate with the smallest value; ties go to the lowest index (deterministic)."""
    return int(candidates[np.lexsort((candidates, value[candidates]))[0]])


def _determined(s: int, items: _Items, sup: np.ndarray, x: np.ndarray) -> bool:
    """True if item s takes one value over all non-negative completions of the released values."""
    n_cells = x.size
    hidden = np.flatnonzero(sup[:n_cells])
    col_of = {int(k): i for i, k in enumerate(hidden)}
    rows, rhs = [], []
    for m in range(n_cells, len(items.kind)):
        if sup[m]:
            continue
        s_m = items.support[m]
        h = [col_of[int(k)] for k in s_m if sup[k]]
        if h:
            a = np.zeros(hidden.size)
            a[h] = 1.0
            rows.append(a)
            rhs.append(float(x[s_m][sup[s_m]].sum()))
    obj = np.zeros(hidden.size)
    obj[[col_of[int(k)] for k in items.support[s] if sup[k]]] = 1.0
    if not obj.any():  # a margin whose cells are all released
        return True
    truth = float(obj @ x[hidden])
    a_eq = np.array(rows) if rows else None
    b_eq = np.array(rhs) if rows else None
    for sign in (-1.0, 1.0):  # maximise first: most suppressed cells can grow
        res = linprog(sign * obj, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
        if res.status == 3 or abs(sign * res.fun - truth) > 0.5:  # unbounded, or another value attainable
            return False
    return True


def _candidates(s: int, items: _Items, sup: np.ndarray, r: int, c: int) -> int | None:
    """The smallest unsuppressed item whose suppression can loosen item s (None if none)."""
    kind, pos = items.kind[s], items.pos[s]
    n_cells = r * c
    related: list[int] = []
    if kind == _CELL:
        i, j = divmod(pos, c)
        related = [i * c + k for k in range(c)] + [k * c + j for k in range(r)]
    else:
        related = [m for m in range(n_cells, len(items.kind)) if items.kind[m] in (kind, _TOTAL)]
        if kind == _TOTAL:
            related += [m for m in range(n_cells, len(items.kind)) if items.kind[m] in (_ROW, _COL)]
        related += [int(k) for k in items.support[s]]
    free = np.array(sorted({k for k in related if not sup[k] and k != s}), dtype=np.int64)
    return _smallest(free, items.value) if free.size else None


def _margin_flags(items: _Items, sup: np.ndarray, r: int, c: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Which margins must be withheld; a table with one row or column shares its total."""
    rows = np.zeros(r, bool)
    cols = np.zeros(c, bool)
    total = False
    for m in range(r * c, len(items.kind)):
        k, p = items.kind[m], items.pos[m]
        if k == _ROW:
            rows[p] = sup[m]
        elif k == _COL:
            cols[p] = sup[m]
        else:
            total = bool(sup[m])
    if c == 1 and r >= 2:
        rows = np.zeros(r, bool)
        total = bool(cols[0])
    if r == 1 and c >= 2:
        total = bool(rows[0])
    return rows, cols, total
