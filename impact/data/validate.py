"""Check NPD-style extracts against their table contracts and report problems as counts.

Messages name the table, the column, the rule and how many rows break it; they never carry
a value from the data (no ids, dates or codes), so a report can be logged inside a secure data
environment. Each table is checked with one aggregate scan (plus one GROUP BY for its key);
code lists, ranges and patterns are bound as parameters and identifiers are quoted.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb

from ..errors import DataError
from .contracts import CONTRACTS, Column, TableContract
from .duck_types import EXPECTED, FLOAT_TYPES, type_fits
from .sources import (
    TableSource,
    check_mapping,
    check_tables,
    discover,
    extract_directory,
    load_mapping,
    register_table,
    unknown_files,
)

__all__ = ["Problem", "ValidationReport", "check_extracts", "load_mapping"]

Severity = Literal["error", "warning"]

SESSIONS_POSSIBLE_LIMIT = 420
"""DfE practice: records with more than 420 possible sessions in a year are dropped."""

ACADEMIC_YEAR_PATTERN = r"\d{4}/(\d{4}|\d{2})"
"""'YYYY/YYYY' or 'YYYY/YY'; that the years are consecutive is checked separately."""


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _count_if(condition: str) -> str:
    """Rows where `condition` is true (count_if gives NULL when the condition is NULL on every row)."""
    return f"coalesce(count_if({condition}), 0)"


def _names(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names)


@dataclass(frozen=True)
class Problem:
    """One broken rule in one table (and column): a count and a message, never a row value."""

    severity: Severity
    table: str
    column: str | None
    rule: str
    count: int | None
    message: str

    def line(self) -> str:
        where = f"{self.table}.{self.column}" if self.column else self.table
        return f"{self.severity:<7} {where}: {self.message}"


@dataclass(frozen=True)
class ValidationReport:
    """The outcome of `check_extracts`: problems (errors and warnings) plus information lines."""

    directory: Path
    sources: dict[str, TableSource]
    problems: tuple[Problem, ...]
    info: tuple[str, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    def lines(self) -> list[str]:
        """Printable lines: information, one line per problem, then a summary."""
        out = [f"info    {text}" for text in self.info]
        out += [p.line() for p in self.problems]
        verdict = "OK" if self.ok else "FAILED"
        out.append(
            f"{verdict}: {len(self.errors)} error(s), {len(self.warnings)} warning(s) "
            f"in {len(self.sources)} table(s) under {self.directory}"
        )
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (column names, file names and counts only)."""
        return {
            "directory": str(self.directory),
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "tables": {
                name: {
                    "files": [f.name for f in src.files],
                    "row_count": src.row_count,
                    "years": list(src.years),
                    "columns_found": list(src.columns_found),
                    "missing_required": list(src.missing_required),
                    "extra_columns": list(src.extra_columns),
                    "renamed": dict(src.renamed),
                }
                for name, src in self.sources.items()
            },
            "problems": [asdict(p) for p in self.problems],
            "info": list(self.info),
        }


def check_extracts(directory: str | Path, *, mapping: Any = None,
                   tables: str | Sequence[str] | None = None) -> ValidationReport:
    """Check every extract in `directory` against its contract (all tables, or `tables`).

    `mapping` {table: {extract_column: contract_column}} renames extract columns first.
    A missing directory raises DataError; everything else becomes a Problem in the report.
    """
    root = extract_directory(directory)
    names = check_tables(tables, "check_extracts")
    user = check_mapping(mapping)
    found = discover(root)
    info = [f"unknown file {p.name}: no table contract claims it (ignored)" for p in unknown_files(root, found)]
    problems: list[Problem] = []
    sources: dict[str, TableSource] = {}
    con = duckdb.connect()
    try:
        con.execute("SET enable_progress_bar = false").fetchall()
        for name in names:
            contract = CONTRACTS[name]
            if not found[name]:
                if contract.required:
                    problems.append(Problem(
                        "error", name, None, "missing_table", None,
                        f"required table not found: no file matches {' or '.join(contract.files)}",
                    ))
                else:
                    info.append(f"{name}: optional table not found ({' or '.join(contract.files)})")
                continue
            try:
                src = register_table(con, contract, found[name], user.get(name))
            except DataError as exc:
                problems.append(Problem("error", name, None, "unreadable", None, str(exc)))
                continue
            sources[name] = src
            years = f", years {', '.join(map(str, src.years))}" if src.years else ""
            info.append(f"{name}: {len(src.files)} file(s), {src.row_count:,} rows{years}")
            problems += _check_table(con, contract, src)
    finally:
        con.close()
    return ValidationReport(root, sources, tuple(problems), tuple(info))


# --- per-table checks -------------------------------------------------------------------

def _check_table(con: duckdb.DuckDBPyConnection, contract: TableContract, src: TableSource) -> list[Problem]:
    problems = _structure_problems(contract, src)
    if src.row_count == 0:
        problems.append(Problem("warning", contract.name, None, "empty", 0, "the table has no rows"))
        return problems
    view = con.table(contract.name)
    view_types = dict(zip(view.columns, (str(t) for t in view.types)))
    usable = {
        c.name for c in contract.columns
        if c.name in src.columns_found and type_fits(c.kind, view_types[c.name])
    }
    scan = _Scan(contract.name, src.row_count)
    for col in contract.columns:
        if col.name in usable:
            _add_column_checks(scan, contract, col, view_types[col.name])
    _add_order_checks(scan, contract, usable)
    _add_sessions_check(scan, contract, usable)
    problems += scan.run(con)
    problems += _key_problems(con, contract, src)
    return problems


def _structure_problems(contract: TableContract, src: TableSource) -> list[Problem]:
    """Problems visible from the files' schemas alone: missing columns, wrong types, extras."""
    t = contract.name
    out = []
    for name in src.missing_required:
        lacking = src.files_without(name)
        where = "" if len(lacking) == len(src.files) else (
            f" from {_names([f.name for f in lacking])} ({len(lacking)} of {len(src.files)} files)"
        )
        out.append(Problem(
            "error", t, name, "missing_column", None,
            f"required column missing{where}; add it to the extract or map the extract's name for it "
            f"(--mapping); it is NULL in the view",
        ))
    for col in contract.columns:
        by_type: dict[str, list[str]] = {}
        for path, types in zip(src.files, src.file_types):
            if col.name in types and not type_fits(col.kind, types[col.name]):
                by_type.setdefault(types[col.name], []).append(path.name)
        for found, files in by_type.items():
            out.append(Problem(
                "error", t, col.name, "type", None,
                f"has type {found} in {_names(files)}; the contract expects {col.kind}: {EXPECTED[col.kind]}",
            ))
    if src.extra_columns:
        out.append(Problem(
            "warning", t, None, "extra_columns", len(src.extra_columns),
            f"{len(src.extra_columns)} extract column(s) not in the contract are dropped: {_names(src.extra_columns)}",
        ))
    if src.unused_mapping:
        out.append(Problem(
            "warning", t, None, "mapping_unused", len(src.unused_mapping),
            f"mapping entries matched no extract column: {_names(src.unused_mapping)}",
        ))
    return out


Handler = Callable[[Any], "Problem | None"]


class _Scan:
    """One aggregate SELECT over a table view: each check adds an expression and a handler."""

    def __init__(self, table: str, rows: int) -> None:
        self.table = table
        self.rows = rows
        self.exprs: list[str] = []
        self.handlers: list[Handler] = []
        self.params: dict[str, Any] = {}

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f"${name}"

    def count(self, condition: str, column: str, rule: str, what: str, severity: Severity = "error") -> None:
        """Count rows meeting `condition`; a non-zero count is a problem '<n> rows <what>'."""
        def handle(n: int) -> Problem | None:
            if not n:
                return None
            return Problem(severity, self.table, column, rule, int(n), f"{int(n):,} row(s) {what}")
        self.add(_count_if(condition), handle)

    def add(self, expr: str, handler: Handler) -> None:
        self.exprs.append(expr)
        self.handlers.append(handler)

    def run(self, con: duckdb.DuckDBPyConnection) -> list[Problem]:
        if not self.exprs:
            return []
        sql = f"SELECT {', '.join(self.exprs)} FROM {_quote(self.table)}"
        (row,) = con.execute(sql, self.params).fetchall()
        return [p for handle, value in zip(self.handlers, row) if (p := handle(value)) is not None]


def _add_column_checks(scan: _Scan, contract: TableContract, col: Column, view_type: str) -> None:
    c = _quote(col.name)
    is_float = view_type.upper() in FLOAT_TYPES
    if not col.nullable:
        scan.count(f"{c} IS NULL", col.name, "null", "are null; the contract does not allow missing values here")
    if is_float:
        scan.count(f"isnan({c})", col.name, "nan", "are NaN; write missing values as null")
    if col.codes is not None:
        allowed = ", ".join(map(str, col.codes))
        scan.count(
            f"{c} IS NOT NULL AND NOT list_contains({scan.param(list(col.codes))}, {c})",
            col.name, "code", f"have a code outside the allowed list ({allowed})",
        )
    if col.min is not None or col.max is not None:
        _add_range_check(scan, col, c, is_float)
    if col.kind == "flag" and view_type.upper() != "BOOLEAN":
        scan.count(f"{c} IS NOT NULL AND NOT list_contains({scan.param([0, 1])}, {c})",
                   col.name, "flag", "are not 0 or 1")
    if col.name == contract.year_column and col.kind == "str":
        start = f"TRY_CAST(substr({c}, 1, 4) AS INTEGER)"
        end = f"TRY_CAST(substr({c}, 6) AS INTEGER)"
        consecutive = f"(CASE WHEN length({c}) = 9 THEN {end} = {start} + 1 ELSE {end} = ({start} + 1) % 100 END)"
        valid = f"coalesce(regexp_full_match({c}, {scan.param(ACADEMIC_YEAR_PATTERN)}) AND {consecutive}, false)"
        scan.count(f"{c} IS NOT NULL AND NOT {valid}", col.name, "academic_year",
                   "are not an academic year 'YYYY/YYYY' or 'YYYY/YY' with consecutive years")
    if col.name == contract.unlinked_share:
        def unlinked(n: int) -> Problem | None:
            if not n:
                return None
            return Problem(
                "warning", scan.table, col.name, "unlinked", int(n),
                f"{100 * n / scan.rows:.1f}% of rows (n={int(n):,}) have no pupil matching reference and cannot be linked",
            )
        scan.add(_count_if(f"{c} IS NULL"), unlinked)


def _add_range_check(scan: _Scan, col: Column, c: str, is_float: bool) -> None:
    not_nan = f" AND NOT isnan({c})" if is_float else ""
    low = _count_if(f"{c} < {scan.param(col.min)}") if col.min is not None else "0"
    high = _count_if(f"{c} > {scan.param(col.max)}{not_nan}") if col.max is not None else "0"
    lo = "-inf" if col.min is None else f"{col.min:g}"
    hi = "inf" if col.max is None else f"{col.max:g}"

    def handle(counts: Sequence[int]) -> Problem | None:
        below, above = (int(x) for x in counts)
        if not below + above:
            return None
        return Problem(
            "error", scan.table, col.name, "range", below + above,
            f"{below + above:,} row(s) outside the allowed range [{lo}, {hi}] ({below:,} below, {above:,} above)",
        )
    scan.add(f"[{low}, {high}]", handle)


def _add_order_checks(scan: _Scan, contract: TableContract, usable: set[str]) -> None:
    for earlier, later in contract.not_after:
        if earlier in usable and later in usable:
            word = "after" if contract.column(earlier).kind == "date" else "above"
            scan.count(f"{_quote(earlier)} > {_quote(later)}", earlier, "order",
                       f"have {earlier} {word} {later}")


def _add_sessions_check(scan: _Scan, contract: TableContract, usable: set[str]) -> None:
    possible = [c.name for c in contract.columns if c.name.startswith("SessionsPossible_") and c.name in usable]
    if not possible:
        return
    total = " + ".join(f"coalesce({_quote(c)}, 0)" for c in possible)
    scan.count(
        f"{total} > {scan.param(SESSIONS_POSSIBLE_LIMIT)}", "SessionsPossible_*", "sessions_over_limit",
        f"have more than {SESSIONS_POSSIBLE_LIMIT} possible sessions in the year; they are dropped "
        "from attendance measures (DfE practice)", severity="warning",
    )


def _key_problems(con: duckdb.DuckDBPyConnection, contract: TableContract, src: TableSource) -> list[Problem]:
    """Rows sharing their key with another row (one GROUP BY over the key)."""
    key_label = "+".join(contract.key)
    absent = [k for k in contract.key if src.files_without(k)]
    if absent:
        return [Problem(
            "warning", contract.name, key_label, "duplicate_key", None,
            f"duplicate-key check skipped: key column(s) {_names(absent)} absent from some files",
        )]
    keys = ", ".join(_quote(k) for k in contract.key)
    sql = (
        f"SELECT coalesce(sum(n), 0) FROM (SELECT count(*) AS n FROM {_quote(contract.name)} "
        f"GROUP BY {keys} HAVING count(*) > 1)"
    )
    ((n,),) = con.execute(sql).fetchall()
    if not n:
        return []
    return [Problem(
        "error", contract.name, key_label, "duplicate_key", int(n),
        f"{int(n):,} row(s) share their key ({', '.join(contract.key)}) with another row; "
        f"the grain is one row per {contract.grain}",
    )]
