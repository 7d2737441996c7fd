"""CheckedTable: the only form in which a table may leave a run, and the helper that builds it.

A CheckedTable can only be made by check_table (which strips identifiers and applies every
rule): its constructor demands a module-private token, and it exposes copies, not its frame.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import polars as pl

from ..errors import DisclosureError
from . import rules as R
from .config import DisclosureConfig

#: Checks whose flagged cells are suppressed (shown as null); the output goes to review.
SUPPRESSING = frozenset({R.THRESHOLD, R.ZEROS, R.SECONDARY, R.LINKED, R.NK, R.P_RATIO, R.DIFFERENCING})
#: Checks that cannot be mitigated: flagged cells are nulled and the output fails.
FAILING = frozenset({R.DOF, R.EXTREMES, R.UNPROTECTED})
#: Checks that leave the value in place (possibly rounded or opened) and ask for review.
ANNOTATING = frozenset(
    {R.NEGATIVE, R.DOMINANCE_UNKNOWN, R.DOF_UNKNOWN, R.ROUNDED, R.EDGES, R.STRUCTURAL_ZERO}
)

_REASONS = {
    R.THRESHOLD: "{n} cell(s) below the minimum count of {c.min_count}, or based on fewer than "
    "{c.min_count} units",
    R.ZEROS: "{n} zero cell(s), treated as disclosive",
    R.SECONDARY: "{n} cell(s) suppressed so that no suppressed value can be recovered from the totals",
    R.LINKED: "{n} cell(s) suppressed so that no suppressed count can be recovered from the other released "
    "tables of the run (see properties.linked_suppression)",
    R.NK: "{n} cell(s) where the top {c.nk_n} contributions make up at least {c.nk_k:.0%} of the total "
    "(N-k dominance)",
    R.P_RATIO: "{n} cell(s) where the other contributions are less than {c.p_ratio:.0%} of the largest "
    "(p% rule)",
    R.NEGATIVE: "{n} cell(s) with negative contributions: dominance is undefined, the checker must review",
    R.DOMINANCE_UNKNOWN: "{n} cell(s) without contributions supplied: N-k and p% were not evaluated",
    R.DOF: "{n} cell(s) from a model with fewer than {c.min_dof} residual degrees of freedom",
    R.DOF_UNKNOWN: "{n} cell(s) from a model reporting neither df nor n_clusters: degrees of freedom "
    "not checked",
    R.EXTREMES: "{n} cell(s) in columns holding raw minima, maxima or 0th/100th percentiles (blocked)",
    R.ROUNDED: "{n} count(s) rounded to base {c.rounding_base}",
    R.EDGES: "{n} outer bin edge(s) opened to -inf/inf so that no raw minimum or maximum is released",
    R.DIFFERENCING: "{n} cell(s) where fewer than {c.min_count} units separate two released groups "
    "(differencing)",
    R.STRUCTURAL_ZERO: "{n} zero cell(s) released as structural zeros on a recorded justification",
    R.UNPROTECTED: "{n} suppressed cell(s) that could still be recovered from the totals",
}

_TOKEN = object()


@dataclass
class Findings:
    """What the checks of one table found, cell by cell; turned into a CheckedTable by `seal`."""

    cells: dict[str, set[tuple[int, int]]] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)  # extra checks that fail for this kind
    exceptions: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    def flag(self, check: str, rows: Iterable[int], cols: Iterable[int]) -> None:
        """Flag every (row, col) pair of the given row and column positions."""
        cols = list(cols)
        self.cells.setdefault(check, set()).update((int(r), int(c)) for r in rows for c in cols)

    def flag_mask(self, check: str, mask: np.ndarray, col_positions: list[int]) -> None:
        """Flag the True entries of a (rows x len(col_positions)) boolean mask."""
        rr, cc = np.nonzero(np.asarray(mask).reshape(-1, len(col_positions)))
        if rr.size:
            self.cells.setdefault(check, set()).update(
                (int(r), col_positions[int(c)]) for r, c in zip(rr, cc)
            )


class CheckedTable:
    """A table after disclosure control: released values (suppressed cells null), status and why.

    status: 'pass' (no rule triggered), 'review' (mitigation applied or a checker must look),
    'fail' (a rule could not be mitigated; the table must not be released).
    cells: check name -> sorted [(row, col)] positions in `table` (ACRO's sdc.cells).
    """

    __slots__ = ("_name", "_kind", "_table", "_status", "_cells", "_reasons", "_exception",
                 "_comments", "_dropped", "_config", "_properties")

    def __init__(self, token: object, **parts: Any) -> None:
        if token is not _TOKEN:
            raise TypeError("CheckedTable is built only by impact.disclosure.check_table")
        for k, v in parts.items():
            object.__setattr__(self, "_" + k, v)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("CheckedTable is read-only")

    name = property(lambda self: self._name, doc="Output name (the key in disclosure.json).")
    kind = property(lambda self: self._kind, doc="Table kind: frequency, magnitude, estimate, balance, histogram.")
    status = property(lambda self: self._status, doc="'pass', 'review' or 'fail'.")
    reasons = property(lambda self: self._reasons, doc="One sentence per triggered check.")
    exception = property(lambda self: self._exception, doc="Automatic exception text (ACRO style).")
    comments = property(lambda self: self._comments, doc="Notes for the output checker.")
    dropped_identifiers = property(lambda self: self._dropped, doc="Names of identifier columns dropped.")
    config = property(lambda self: self._config, doc="The DisclosureConfig applied.")

    @property
    def table(self) -> pl.DataFrame:
        """The released table (a copy): suppressed or blocked cells are null."""
        return self._table.clone()

    @property
    def properties(self) -> dict[str, Any]:
        return dict(self._properties)

    @property
    def cells(self) -> Mapping[str, list[tuple[int, int]]]:
        return MappingProxyType({k: list(v) for k, v in self._cells.items()})

    @property
    def summary(self) -> dict[str, int]:
        """Check name -> number of cells it flagged."""
        return {k: len(v) for k, v in self._cells.items()}

    def mask(self, check: str) -> pl.DataFrame:
        """Boolean frame shaped like `table`: True where `check` flagged the cell."""
        m = np.zeros(self._table.shape, bool)
        for r, c in self._cells.get(check, ()):
            m[r, c] = True
        return pl.DataFrame({col: m[:, j] for j, col in enumerate(self._table.columns)})

    def outcome(self) -> pl.DataFrame:
        """Per-cell outcome like ACRO's: 'ok' or the checks that flagged the cell, '; '-joined."""
        names: dict[tuple[int, int], list[str]] = {}
        for check in sorted(self._cells):
            for rc in self._cells[check]:
                names.setdefault(rc, []).append(check)
        out = np.full(self._table.shape, "ok", dtype=object)
        for (r, c), checks in names.items():
            out[r, c] = "; ".join(checks)
        return pl.DataFrame({col: list(out[:, j]) for j, col in enumerate(self._table.columns)})

    def __repr__(self) -> str:
        return (
            f"CheckedTable(name={self._name!r}, kind={self._kind!r}, status={self._status!r}, "
            f"summary={self.summary})"
        )


def seal(
    table: pl.DataFrame,
    findings: Findings,
    *,
    name: str,
    kind: str,
    config: DisclosureConfig,
    dropped: tuple[str, ...],
    properties: dict[str, Any],
) -> CheckedTable:
    """Null every cell flagged by a suppressing or failing check and decide the status."""
    nulled = {cell for k, v in findings.cells.items() if k not in ANNOTATING for cell in v}
    table = _null_cells(table, nulled)
    fails = (FAILING | findings.failing) & {k for k, v in findings.cells.items() if v}
    flagged = any(findings.cells.values())
    status = "fail" if fails else ("review" if flagged or findings.exceptions else "pass")
    cells = {k: tuple(sorted(v)) for k, v in sorted(findings.cells.items()) if v}
    reasons = tuple(_REASONS[k].format(n=len(v), c=config) for k, v in cells.items())
    exceptions = list(findings.exceptions)
    if cells.keys() & SUPPRESSING:
        exceptions.insert(0, "Suppression automatically applied where needed")
    return CheckedTable(
        _TOKEN,
        name=name,
        kind=kind,
        table=table,
        status=status,
        cells=cells,
        reasons=reasons,
        exception="; ".join(exceptions),
        comments=tuple(findings.comments),
        dropped=dropped,
        config=config,
        properties=properties,
    )


def amend(
    checked: CheckedTable, extra: Mapping[str, Iterable[tuple[int, int]]], properties: Mapping[str, Any]
) -> CheckedTable:
    """A copy of `checked` with more cells flagged (and nulled, for suppressing or failing checks),
    its status, reasons and exception updated and `properties` added: the cross-table pass
    (impact.disclosure.linked) tightens tables that check_table has already sealed."""
    cells = {k: set(v) for k, v in checked._cells.items()}
    for check, positions in extra.items():
        cells.setdefault(check, set()).update((int(r), int(c)) for r, c in positions)
    new = {cell for k, v in extra.items() if k not in ANNOTATING for cell in v}
    order = {"pass": 0, "review": 1, "fail": 2}
    status = "fail" if FAILING & {k for k, v in extra.items() if v} else ("review" if new else "pass")
    status = max(checked.status, status, key=order.__getitem__)
    cells_sorted = {k: tuple(sorted(v)) for k, v in sorted(cells.items()) if v}
    exception = checked.exception
    auto = "Suppression automatically applied where needed"
    if new and auto not in exception:
        exception = "; ".join([auto, exception]) if exception else auto
    return CheckedTable(
        _TOKEN,
        name=checked.name,
        kind=checked.kind,
        table=_null_cells(checked._table, new),
        status=status,
        cells=cells_sorted,
        reasons=tuple(_REASONS[k].format(n=len(v), c=checked.config) for k, v in cells_sorted.items()),
        exception=exception,
        comments=checked.comments,
        dropped=checked.dropped_identifiers,
        config=checked.config,
        properties={**checked._properties, **properties},
    )


def _null_cells(table: pl.DataFrame, cells: set[tuple[int, int]]) -> pl.DataFrame:
    """Set the given (row, col) cells to null, column by column."""
    by_col: dict[int, list[int]] = {}
    for r, c in cells:
        by_col.setdefault(c, []).append(r)
    exprs = []
    for c, rows in sorted(by_col.items()):
        mask = np.zeros(table.height, bool)
        mask[rows] = True
        col = table.columns[c]
        exprs.append(pl.when(pl.lit(pl.Series(mask))).then(None).otherwise(pl.col(col)).alias(col))
    return table.with_columns(exprs) if exprs else table


def require_pass(checked: CheckedTable, required: bool = True) -> CheckedTable:
    """Raise DisclosureError (CLI exit code 4) if a required output failed; return it otherwise."""
    if not isinstance(checked, CheckedTable):
        raise TypeError(f"require_pass expects a CheckedTable from check_table; got {type(checked).__name__}")
    if required and checked.status == "fail":
        raise DisclosureError(
            f"output '{checked.name}' failed disclosure control: {'; '.join(checked.reasons)}. "
            "Coarsen the table (fewer categories or wider bins), pool groups, or mark the output as not required."
        )
    return checked
