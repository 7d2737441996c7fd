"""Secondary suppression across the released tables of one run (linked tables).

A count released in one table is often a total, a part or a copy of a count in another: the
whole-cohort n_treated of an estimate is the sum of the n_treated of its subgroup levels, the
cohort step of the attrition table is the sum of a column of cohort sizes, every term of an
event study repeats the model's counts. Suppressing a small count in one place protects
nothing if it can be recovered by subtraction elsewhere.

Model. The caller declares `Relation(total, parts)`: total = sum(parts) + remainder, over
`Cell`s (table, row, column) of the run's released tables. The remainder (units outside the
listed levels, or counted in two of them) is computed from the true values and assumed known
to the intruder: a conservative choice, it makes every declared relation an exact equation.
The intruder knows every released cell. A count is *sensitive* when it is hidden and unsafe
(below min_count, or zero while zeros are disclosive).

Algorithm (deterministic; the standard complementary-suppression rules over the union of the
run's relations): (1) a relation with exactly one hidden item that is sensitive, or whose
hidden parts have a known sum that is itself unsafe, gets one more: its smallest released
item (ties: first declared); (2) a sensitive item determined by the released values (its unit
vector lies in the row space of the relations restricted to hidden items, i.e. it has no
component in their null space) gets the smallest released item of the nearest relations that
can still open it; (3) repeat until neither adds anything. Hiding a count also blanks the
statistics of its row that would reveal it (`blank`). An item that cannot be protected is
flagged 'unprotected' and its table fails.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.linalg import null_space

from ..errors import ParameterError
from . import rules as R
from .checked import CheckedTable, amend

_OWNER = "protect_linked"
_TOL = 1e-9


@dataclass(frozen=True)
class Cell:
    """One released count: the output name, its row position and its column."""

    table: str
    row: int
    column: str


@dataclass(frozen=True)
class Relation:
    """total = sum(parts) + a remainder the intruder is assumed to know; `label` says why."""

    total: Cell
    parts: tuple[Cell, ...]
    label: str = ""


def protect_linked(
    checked: Mapping[str, CheckedTable],
    values: Mapping[str, pl.DataFrame],
    relations: Sequence[Relation],
    *,
    blank: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> dict[str, CheckedTable]:
    """Suppress released counts until no hidden unsafe count of any table can be recovered from
    the released counts of all tables through `relations`; return the (amended) tables.

    values: output name -> the table before disclosure control (same rows), for true values.
    blank: output name -> {count column: columns of the same row to blank with it}.
    """
    if not relations:
        return dict(checked)
    items, index = _collect(relations, checked, values)
    config = next(iter(checked[c.table] for c in items)).config
    value = np.array([int(values[c.table].get_column(c.column)[c.row]) for c in items], dtype=np.int64)
    hidden = np.array([checked[c.table].table.get_column(c.column)[c.row] is None for c in items])
    sensitive = hidden & R.unsafe_count(value, config)
    a = np.zeros((len(relations), len(items)))
    for k, rel in enumerate(relations):
        a[k, index[rel.total]] = 1.0
        for p in rel.parts:
            a[k, index[p]] -= 1.0
    state = _State(items, index, value, hidden, a, relations, blank or {})
    failed = np.zeros(len(items), bool)
    while True:
        if state.pair_up(sensitive, config):
            continue
        determined = np.flatnonzero(sensitive & state.hidden & ~failed & state.determined())
        if determined.size == 0:
            break
        i = int(determined[0])
        if not state.open_up(i):
            failed[i] = True
    return _amend_all(checked, state, failed)


def determined_items(a: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Bool per column of `a`: hidden and fixed by the equations a @ x = b given the released x
    (its unit vector is orthogonal to the null space of the hidden columns)."""
    out = np.zeros(a.shape[1], bool)
    h = np.flatnonzero(hidden)
    if h.size == 0:
        return out
    sub = a[:, h]
    sub = sub[np.abs(sub).sum(axis=1) > 0]
    if sub.shape[0] == 0:
        return out
    basis = null_space(sub)
    out[h] = np.linalg.norm(basis, axis=1) < _TOL if basis.size else True
    return out


class _State:
    """The hidden set and why each item the pass added was hidden."""

    def __init__(self, items, index, value, hidden, a, relations, blank):
        self.items: list[Cell] = items
        self.index: dict[Cell, int] = index
        self.value = value
        self.hidden = hidden.copy()
        self.a = a
        self.relations = relations
        self.blank = blank
        self.members = [np.flatnonzero(a[k]) for k in range(a.shape[0])]
        self.of_item: list[list[int]] = [[] for _ in items]
        for k, m in enumerate(self.members):
            for i in m:
                self.of_item[int(i)].append(k)
        self.why: dict[Cell, str] = {}  # cells (items or blanked statistics) hidden by the pass

    def determined(self) -> np.ndarray:
        return determined_items(self.a, self.hidden)

    def pair_up(self, sensitive: np.ndarray, config) -> bool:
        """Rule 1 over every relation; returns whether anything was hidden."""
        added = False
        for k, m in enumerate(self.members):
            h = m[self.hidden[m]]
            if not sensitive[h].any():
                continue
            signs = self.a[k, h]
            known_sum = h.size > 1 and (np.all(signs > 0) or np.all(signs < 0))
            exposed = h.size == 1 or (known_sum and R.unsafe_count(np.array([self.value[h].sum()]), config)[0])
            free = self._free(k)
            if exposed and free.size:
                self._hide(self._best(free)[1], k)
                added = True
        return added

    def open_up(self, i: int) -> bool:
        """Rule 2: hide the smallest released item of the relations nearest to item i (its own
        relations first, then those reached through hidden items); False if there is none."""
        seen_rel: set[int] = set()
        seen_items = frontier = {i}
        while frontier:
            rels = sorted({k for j in frontier for k in self.of_item[j]} - seen_rel)
            seen_rel.update(rels)
            candidates = [(self._best(free), k) for k in rels if (free := self._free(k)).size]
            if candidates:
                (_, j), k = min(candidates)
                self._hide(j, k)
                return True
            frontier = {int(j) for k in rels for j in self.members[k] if self.hidden[j]} - seen_items
            seen_items = seen_items | frontier
        return False

    def _free(self, k: int) -> np.ndarray:
        m = self.members[k]
        return m[~self.hidden[m]]

    def _best(self, free: np.ndarray) -> tuple[int, int]:
        """(value, index) of the smallest item; ties go to the first declared."""
        j = int(free[np.lexsort((free, self.value[free]))[0]])
        return int(self.value[j]), j

    def _hide(self, j: int, k: int) -> None:
        """Hide item j because of relation k, and blank the statistics its row derives from it."""
        self.hidden[j] = True
        cell = self.items[j]
        rel = self.relations[k]
        others = sorted({c.table for c in (rel.total, *rel.parts)} - {cell.table}) or [cell.table]
        label = f" ({rel.label})" if rel.label else ""
        self.why[cell] = f"secondary, linked to {', '.join(others)}{label}"
        for col in self.blank.get(cell.table, {}).get(cell.column, ()):
            other = Cell(cell.table, cell.row, col)
            if other in self.why:
                continue
            self.why[other] = f"blanked with {cell.column}, which is suppressed"
            if other in self.index:
                self.hidden[self.index[other]] = True


def _collect(relations, checked, values) -> tuple[list[Cell], dict[Cell, int]]:
    """Every cell named by a relation, in order of first mention, after checking it exists."""
    index: dict[Cell, int] = {}
    for rel in relations:
        if not isinstance(rel, Relation) or not rel.parts:
            raise ParameterError(f"{_OWNER}: relations must be Relation(total, parts) with parts; got {rel!r}")
        if rel.total in rel.parts or len(set(rel.parts)) != len(rel.parts):
            raise ParameterError(f"{_OWNER}: relation {rel.label or rel!r} names a cell twice")
        for c in (rel.total, *rel.parts):
            if c in index:
                continue
            if c.table not in checked or c.table not in values:
                raise ParameterError(f"{_OWNER}: relation {rel.label!r} names table {c.table!r}, which was not passed")
            frame = values[c.table]
            if c.column not in frame.columns or not 0 <= c.row < frame.height:
                raise ParameterError(f"{_OWNER}: relation {rel.label!r} names a missing cell {c}")
            if frame.get_column(c.column)[c.row] is None:
                raise ParameterError(f"{_OWNER}: relation {rel.label!r} names an empty cell {c}")
            index[c] = len(index)
    configs = {checked[c.table].config for c in index}
    if len(configs) > 1:
        raise ParameterError(f"{_OWNER}: the tables were checked under different DisclosureConfigs")
    return list(index), index


def _amend_all(checked, state: _State, failed: np.ndarray) -> dict[str, CheckedTable]:
    """Flag the cells the pass hid (and the unprotected ones) in their tables."""
    out = dict(checked)
    per_table: dict[str, dict[str, list]] = {}
    for cell, why in state.why.items():
        t = checked[cell.table]
        if cell.column not in t.table.columns:
            continue
        entry = per_table.setdefault(cell.table, {"cells": [], "notes": []})
        entry["cells"].append((cell.row, t.table.columns.index(cell.column)))
        entry["notes"].append({"row": cell.row, "column": cell.column, "why": why})
    unprotected: dict[str, list] = {}
    for i in np.flatnonzero(failed):
        cell = state.items[int(i)]
        unprotected.setdefault(cell.table, []).append((cell.row, checked[cell.table].table.columns.index(cell.column)))
    for name in sorted(set(per_table) | set(unprotected)):
        entry = per_table.get(name, {"cells": [], "notes": []})
        extra = {R.LINKED: entry["cells"]}
        if name in unprotected:
            extra[R.UNPROTECTED] = unprotected[name]
        notes = sorted(entry["notes"], key=lambda d: (d["row"], d["column"]))
        out[name] = amend(checked[name], extra, {"linked_suppression": notes})
    return out


# --- building the relations of long tables --------------------------------------------------


def breakdown_relations(
    name: str,
    table: pl.DataFrame,
    *,
    keys: Sequence[str],
    counts: Mapping[str, Sequence[str]],
    subgroup: str = "subgroup",
    level: str = "subgroup_level",
) -> list[Relation]:
    """Rows of a long table that break a total row down by levels: for each group of `keys`, the
    row with `subgroup` null is the total, and for each subgroup the rows of its levels are
    parts. counts: subgroup -> the count columns its levels partition (a subgroup that keeps
    the comparison group whole partitions n_treated only)."""
    if subgroup not in table.columns:
        return []
    keys = [k for k in keys if k in table.columns]
    rows = table.with_row_index("_row").select("_row", *keys, subgroup, level)
    relations = []
    for _, group in rows.group_by(keys, maintain_order=True) if keys else [((), rows)]:
        totals = group.filter(pl.col(subgroup).is_null())["_row"].to_list()
        if len(totals) != 1:
            continue
        for sub, cols in counts.items():
            parts = group.filter(pl.col(subgroup) == sub)["_row"].to_list()
            for col in cols:
                if parts and col in table.columns and table.get_column(col).gather([totals[0], *parts]).null_count() == 0:
                    relations.append(Relation(
                        Cell(name, totals[0], col), tuple(Cell(name, r, col) for r in parts),
                        f"{col} of the whole sample = sum over {sub} levels",
                    ))
    return relations


def row_sum_relations(name: str, table: pl.DataFrame, total: str, parts: Sequence[str]) -> list[Relation]:
    """total column = sum of the part columns, on every row where all are present."""
    if any(c not in table.columns for c in (total, *parts)):
        return []
    present = table.select(pl.all_horizontal(pl.col(total, *parts).is_not_null())).to_series().to_list()
    return [
        Relation(Cell(name, r, total), tuple(Cell(name, r, p) for p in parts), f"{total} = {' + '.join(parts)}")
        for r, ok in enumerate(present) if ok
    ]


def same_value_relations(
    tables: Mapping[str, pl.DataFrame], *, by: Sequence[str], columns: Sequence[str]
) -> list[Relation]:
    """Cells that repeat one count (same labels `by`, same column, same value) across the rows of
    several tables, chained as equalities: suppressing one copy must suppress them all."""
    seen: dict[tuple, Cell] = {}
    relations = []
    for name, table in tables.items():
        labels = [b for b in by if b in table.columns]
        for col in columns:
            if col not in table.columns:
                continue
            frame = table.select(*labels, col).with_row_index("_row")
            for row in frame.iter_rows(named=True):
                if row[col] is None:
                    continue
                key = (col, row[col], *(row.get(b) for b in by))
                cell = Cell(name, row["_row"], col)
                if key in seen:
                    relations.append(Relation(seen[key], (cell,), f"the same {col} repeated"))
                else:
                    seen[key] = cell
    return relations

