"""Find NPD-style parquet extracts and register each table as a DuckDB view in contract names.

Paths live here and never inside SQL text: each file is opened with DuckDB's relational API,
its columns are renamed to the contract's (suffix stripped, case ignored, user mapping first),
absent contract columns become typed NULLs, and per-year files are stacked by name. Nothing
is read beyond parquet footers until a query runs against the view.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from ..errors import DataError, ParameterError
from ..params import check_columns_arg
from .contracts import CONTRACTS, TableContract
from .duck_types import NULL_TYPES, stackable

TableMapping = dict[str, dict[str, str]]
"""A user column mapping: {table: {extract_column: contract_column}}."""


@dataclass(frozen=True)
class TableSource:
    """What the reader found for one table; metadata only (the data stay in the files).

    `file_types[i]` maps each contract column found in `files[i]` to its DuckDB type there
    (a derived year column counts as found, type VARCHAR). `renamed` maps raw extract names
    to contract names where they differ; `years` are the academic end years read from
    column suffixes; `unused_mapping` lists mapping entries that matched no column.
    """

    table: str
    files: tuple[Path, ...]
    row_count: int
    file_types: tuple[dict[str, str], ...]
    extra_columns: tuple[str, ...]
    renamed: dict[str, str]
    years: tuple[int, ...]
    unused_mapping: tuple[str, ...] = ()

    @property
    def columns_found(self) -> tuple[str, ...]:
        """Contract columns present in at least one file, in contract order."""
        found = set().union(*self.file_types) if self.file_types else set()
        return tuple(c.name for c in CONTRACTS[self.table].columns if c.name in found)

    @property
    def missing_required(self) -> tuple[str, ...]:
        """Required contract columns absent from at least one file (NULL-filled in the view)."""
        return tuple(
            c.name for c in CONTRACTS[self.table].columns
            if c.required and any(c.name not in ft for ft in self.file_types)
        )

    def files_without(self, column: str) -> tuple[Path, ...]:
        """The files that lack a contract column."""
        return tuple(f for f, ft in zip(self.files, self.file_types) if column not in ft)


# --- arguments --------------------------------------------------------------------------

def extract_directory(directory: str | Path) -> Path:
    """The extract directory as a Path; DataError naming it if it is not an existing directory."""
    path = Path(directory)
    if not path.is_dir():
        what = "is not a directory" if path.exists() else "does not exist"
        raise DataError(f"extract directory '{path}' {what}; pass the folder that holds the parquet extracts")
    return path


def check_tables(tables: str | Sequence[str] | None, owner: str) -> list[str]:
    """Normalise a `tables` argument to known table names (all tables when None)."""
    if tables is None:
        return list(CONTRACTS)
    names = check_columns_arg(owner, "tables", tables)
    unknown = [t for t in names if t not in CONTRACTS]
    if unknown or not names:
        raise ParameterError(
            f"The 'tables' parameter of {owner} must name tables among {', '.join(CONTRACTS)}. "
            f"Got {unknown or names!r} instead."
        )
    return names


def check_mapping(mapping: Any, *, source: str = "mapping") -> TableMapping:
    """Validate a user column mapping {table: {extract_column: contract_column}}.

    `source` names where the mapping came from (a file) in error messages.
    """
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        raise ParameterError(
            f"{source}: a column mapping must be {{table: {{extract_column: contract_column}}}}; "
            f"got {type(mapping).__name__}"
        )
    out: TableMapping = {}
    for table, columns in mapping.items():
        if table not in CONTRACTS:
            raise ParameterError(f"{source}: unknown table {table!r}; tables are {', '.join(CONTRACTS)}")
        if not isinstance(columns, Mapping):
            raise ParameterError(f"{source}: entry {table!r} must map extract column names to contract column names")
        names = {c.name for c in CONTRACTS[table].columns}
        seen: dict[str, str] = {}
        for raw, target in columns.items():
            if not isinstance(raw, str) or not isinstance(target, str):
                raise ParameterError(f"{source}: {table}: column names must be strings; got {raw!r}: {target!r}")
            if target not in names:
                raise ParameterError(
                    f"{source}: {table}.{raw}: {target!r} is not a column of {table}; "
                    f"see docs/reference/tables.md for its columns"
                )
            if raw.lower() in seen:
                raise ParameterError(
                    f"{source}: {table}: {seen[raw.lower()]!r} and {raw!r} are the same column "
                    "(names are case-insensitive)"
                )
            seen[raw.lower()] = raw
        out[table] = dict(columns)
    return out


def load_mapping(path: str | Path) -> TableMapping:
    """Read a column mapping from a YAML or JSON file; errors name the file and the key."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError(f"cannot read the column mapping file '{path}': {exc.strerror or exc}") from None
    is_json = path.suffix.lower() == ".json"
    try:
        data = json.loads(text) if is_json else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = exc.lineno if isinstance(exc, json.JSONDecodeError) else (mark.line + 1 if mark else None)
        where = f" at line {line}" if line else ""
        raise ParameterError(
            f"the column mapping file '{path}' is not valid {'JSON' if is_json else 'YAML'}{where}"
        ) from None
    return check_mapping(data if data is not None else {}, source=str(path))


# --- discovery --------------------------------------------------------------------------

def discover(directory: str | Path) -> dict[str, list[Path]]:
    """The files of each contract's table (first `files` pattern that matches wins), sorted."""
    root = extract_directory(directory)
    found: dict[str, list[Path]] = {}
    for name, contract in CONTRACTS.items():
        files: list[Path] = []
        for pattern in contract.files:
            files = sorted(p for p in root.glob(pattern) if p.is_file())
            if files:
                break
        found[name] = files
    return found


def unknown_files(directory: str | Path, found: Mapping[str, Iterable[Path]] | None = None) -> list[Path]:
    """Parquet files in the directory that no table contract claims (reported, not an error)."""
    root = extract_directory(directory)
    found = discover(root) if found is None else found
    claimed = {p for files in found.values() for p in files}
    return sorted(p for p in root.glob("*.parquet") if p.is_file() and p not in claimed)


# --- registration -----------------------------------------------------------------------

@dataclass(frozen=True)
class _FilePlan:
    """How one file's raw columns become contract columns."""

    assigned: dict[str, str]  # contract column -> raw column
    types: dict[str, str]  # contract column -> DuckDB type
    extras: tuple[str, ...]
    years: tuple[int, ...]
    derived_year: int | None
    used_mapping: frozenset[str]


def _plan_file(contract: TableContract, path: Path, names: Sequence[str], types: Sequence[str],
               mapping: Mapping[str, str]) -> _FilePlan:
    suffix = re.compile(contract.suffix, re.IGNORECASE) if contract.suffix else None
    by_lower = {c.name.lower(): c.name for c in contract.columns}
    user = {raw.lower(): target for raw, target in mapping.items()}
    assigned: dict[str, str] = {}
    found_types: dict[str, str] = {}
    extras: list[str] = []
    years: set[int] = set()
    used: set[str] = set()
    for raw, dtype in zip(names, types):
        stripped = raw
        m = suffix.search(raw) if suffix else None
        if m:
            stripped = raw[: m.start()]
            years.add(2000 + int(m.group(1)))
        key = raw.lower() if raw.lower() in user else stripped.lower()
        target = user.get(key) or by_lower.get(stripped.lower())
        if key in user:
            used.add(key)
        if target is None:
            extras.append(raw)
            continue
        if target in assigned:
            raise DataError(
                f"{path.name}: columns {assigned[target]!r} and {raw!r} both map to {contract.name}.{target}; "
                "drop one or rename it with a column mapping"
            )
        assigned[target] = raw
        found_types[target] = dtype
    derived = None
    year_col = contract.year_column
    if suffix and year_col and year_col not in assigned and years:
        if len(years) > 1:
            raise DataError(
                f"{path.name}: columns carry suffixes of several years ({', '.join(map(str, sorted(years)))}) "
                f"and no {year_col} column; write one file per year or add {year_col}"
            )
        derived = next(iter(years))
        found_types[year_col] = "VARCHAR"
    return _FilePlan(assigned, found_types, tuple(extras), tuple(sorted(years)), derived, frozenset(used))


def _projection(contract: TableContract, plan: _FilePlan) -> list[duckdb.Expression]:
    """Expressions selecting every contract column, in contract order, from one file."""
    exprs = []
    for col in contract.columns:
        if col.name in plan.assigned:
            e = duckdb.ColumnExpression(plan.assigned[col.name])
        elif col.name == contract.year_column and plan.derived_year is not None:
            y = plan.derived_year
            e = duckdb.ConstantExpression(f"{y - 1}/{y}")
        else:
            e = duckdb.ConstantExpression(None).cast(duckdb.sqltype(NULL_TYPES[col.kind]))
        exprs.append(e.alias(col.name))
    return exprs


def _open(con: duckdb.DuckDBPyConnection, path: Path) -> tuple[duckdb.DuckDBPyRelation, int]:
    """A lazy relation over one parquet file and its row count from the footer."""
    try:
        rows = pq.read_metadata(path).num_rows
        rel = con.read_parquet(str(path))
    except (OSError, ValueError, duckdb.Error) as exc:
        raise DataError(
            f"cannot read '{path}' as parquet ({type(exc).__name__}); check that the file is a complete parquet file"
        ) from None
    return rel, rows


def _type_conflicts(contract: TableContract, files: Sequence[Path], plans: Sequence[_FilePlan]) -> list[str]:
    """Columns whose types differ between files in ways that cannot be stacked, with each file's type."""
    parts = []
    for col in contract.columns:
        typed = [(f.name, p.types[col.name]) for f, p in zip(files, plans) if col.name in p.types]
        if not stackable({t for _, t in typed}):
            parts.append(f"{col.name} is " + ", ".join(f"{t} in {name}" for name, t in typed))
    return parts


def _table_source(contract: TableContract, files: Sequence[Path], plans: Sequence[_FilePlan], rows: int,
                  mapping: Mapping[str, str]) -> TableSource:
    """What registering one table found (any engine): files, types, extra and renamed columns, years."""
    used = set().union(*(p.used_mapping for p in plans))
    return TableSource(
        table=contract.name,
        files=tuple(files),
        row_count=rows,
        file_types=tuple(p.types for p in plans),
        extra_columns=tuple(dict.fromkeys(x for p in plans for x in p.extras)),
        renamed={raw: target for p in plans for target, raw in p.assigned.items() if raw != target},
        years=tuple(sorted(set().union(*(p.years for p in plans)))),
        unused_mapping=tuple(raw for raw in mapping if raw.lower() not in used),
    )


def require_stackable(contract: TableContract, sources: Sequence[Path], plans: Sequence[_FilePlan], *,
                      what: str) -> None:
    """Raise DataError if the sources of one table give a column different types (they cannot be stacked)."""
    conflicts = _type_conflicts(contract, sources, plans)
    if conflicts:
        raise DataError(
            f"the {what} of {contract.name} cannot be stacked: {'; '.join(conflicts)}; "
            "write the column with one type in all of them"
        )


def register_table(con: duckdb.DuckDBPyConnection, contract: TableContract, files: Sequence[Path],
                   mapping: Mapping[str, str] | None = None) -> TableSource:
    """Create the view `contract.name` over `files` (stacked by name) and describe what was found."""
    mapping = mapping or {}
    relations, plans, rows = [], [], 0
    for path in files:
        rel, n = _open(con, path)
        plan = _plan_file(contract, path, rel.columns, [str(t) for t in rel.types], mapping)
        relations.append(rel.select(*_projection(contract, plan)))
        plans.append(plan)
        rows += n
    if not relations:
        raise DataError(f"no files for table {contract.name} (expected {' or '.join(contract.files)})")
    require_stackable(contract, files, plans, what="files")
    view = relations[0]
    for rel in relations[1:]:
        view = view.union_by_name(rel)
    view.create_view(contract.name, replace=True)
    return _table_source(contract, files, plans, rows, mapping)


def register_extracts(con: duckdb.DuckDBPyConnection, directory: str | Path, *,
                      mapping: Any = None, tables: str | Sequence[str] | None = None) -> dict[str, TableSource]:
    """Register every table found in `directory` as a DuckDB view named as its contract.

    Views have exactly the contract's columns (absent ones as typed NULLs; extra ones dropped).
    `mapping` {table: {extract_column: contract_column}} renames columns before matching;
    `tables` restricts registration to those tables.
    """
    names = check_tables(tables, "register_extracts")
    user = check_mapping(mapping)
    found = discover(directory)
    return {
        name: register_table(con, CONTRACTS[name], found[name], user.get(name))
        for name in names if found[name]
    }

