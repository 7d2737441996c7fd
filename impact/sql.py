"""Load the SQL models in `queries/` by name, check their declared parameters, run them bound.

Each model is one file `queries/<name>.sql` whose first lines are a header::

    -- name: flag_pupil_census
    -- grain: pupil x census year
    -- params: $census_years, $lookback_years
    -- depends: stg_census, flag_social_care
    -- materialise: table

`params` lists every `$name` the body binds (or `none`); `depends` lists the models and the
extract tables (views named as in `impact.data.contracts`) the body reads (or `none`).
`materialise` (optional, default `table`) is `view` for a model that is cheap to recompute or
read once, so that its rows are never stored and filters on it reach the extract scans; a view
cannot bind parameters. `inline` is for a model with parameters that is read by one model only:
it is never stored (unless built by name) but placed as a named CTE in front of each model that
reads it, so that a large intermediate (the pupil x census grid before cohort assignment) is not
written twice. `compress: yes` (optional) marks a large table (the pupil x census grid): `build(...,
compress=True)` stores it in the connection's own database rather than as a TEMP table, which a
DuckDB database file holds compressed (TEMP tables are held, and spilled, uncompressed).
`uncompressed: pupil_id` (optional, with `compress: yes`) names columns stored there as written:
the pupil ids, 16 random characters, which FSST halves for more CPU, writing and reading them
back, than the smaller file saves (the table is then created from the query's described columns).
`yearly: yes` (optional, tables only) says that rows of different census years share nothing:
`build(..., passes=...)` may then create the table in several passes (one census year each),
appending each pass's rows, so that no pass holds more than one year.
Values only ever reach SQL as DuckDB `$name` bindings; the only text composed here is
`CREATE TEMP TABLE|VIEW "<model>" AS <file body>` (`INSERT INTO "<model>" <file body>` for a
further pass, or every pass after `CREATE TABLE "<model>" (<columns DuckDB describes>)` for a model
with `uncompressed` columns) and, for inline dependencies,
`WITH "<dep>" AS (<dep body>) SELECT * FROM (<file body>) AS "<model>"`, and `DROP TABLE|VIEW IF
EXISTS "<model>"` for a model released (see `build`), with model names quoted as identifiers.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from .data.contracts import CONTRACTS
from .errors import DataError, ImpactError, ParameterError

_HEADER_KEYS = ("name", "grain", "params", "depends")
_MATERIALISE = ("table", "view", "inline")
_PARAM = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_COMMENT = re.compile(r"--[^\n]*")
_STRING = re.compile(r"'(?:[^']|'')*'")


class QueryDefinitionError(ImpactError):
    """A file in `queries/` is malformed: bad header, undeclared parameter, unknown dependency."""


@dataclass(frozen=True)
class Query:
    """One SQL model: its header fields and its body."""

    name: str
    grain: str
    params: tuple[str, ...]
    depends: tuple[str, ...]
    sql: str
    path: Path
    materialise: str = "table"
    compress: bool = False
    yearly: bool = False
    uncompressed: tuple[str, ...] = ()

    @property
    def models(self) -> tuple[str, ...]:
        """The dependencies that are models (the rest are extract tables)."""
        return tuple(d for d in self.depends if d not in CONTRACTS)

    @property
    def sources(self) -> tuple[str, ...]:
        """The dependencies that are extract tables registered as views."""
        return tuple(d for d in self.depends if d in CONTRACTS)


def query_dirs() -> tuple[Path, ...]:
    """Where queries are looked for: `impact/_queries` (installed wheel), then `<repo>/queries` (checkout)."""
    here = Path(__file__).resolve().parent
    return tuple(p for p in (here / "_queries", here.parent / "queries") if p.is_dir())


def available_queries() -> tuple[str, ...]:
    """Names of all models found, sorted."""
    names = {p.stem for d in query_dirs() for p in d.glob("*.sql")}
    return tuple(sorted(names))


@lru_cache(maxsize=None)
def load_query(name: str) -> Query:
    """Read and check `queries/<name>.sql` (header complete, name matches, params declared = used)."""
    for d in query_dirs():
        path = d / f"{name}.sql"
        if path.is_file():
            return _parse(path)
    known = ", ".join(available_queries()) or "none"
    raise ParameterError(f"No SQL model named {name!r} in {[str(d) for d in query_dirs()]}; known models: {known}")


def _parse(path: Path) -> Query:
    text = path.read_text(encoding="utf-8")
    header: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"--\s*(\w+):\s*(.*)$", line.strip())
        if not m:
            break
        header[m.group(1)] = m.group(2).strip()
    missing = [k for k in _HEADER_KEYS if k not in header]
    if missing:
        raise QueryDefinitionError(f"{path}: header must declare {', '.join(_HEADER_KEYS)}; missing {missing}")
    if header["name"] != path.stem:
        raise QueryDefinitionError(f"{path}: header name {header['name']!r} differs from the file name {path.stem!r}")
    params = tuple(_split(header["params"], strip="$"))
    used = set(_PARAM.findall(_STRING.sub("''", _COMMENT.sub("", text))))
    if used != set(params):
        raise QueryDefinitionError(
            f"{path}: declared params {sorted(params)} differ from the $params used in the body {sorted(used)}"
        )
    materialise = header.get("materialise", "table")
    if materialise not in _MATERIALISE:
        raise QueryDefinitionError(f"{path}: materialise must be one of {', '.join(_MATERIALISE)}; got {materialise!r}")
    if materialise == "view" and params:
        raise QueryDefinitionError(f"{path}: a view cannot bind parameters ({', '.join(params)}); materialise it as a table")
    compress = header.get("compress", "no")
    if compress not in ("yes", "no") or (compress == "yes" and materialise != "table"):
        raise QueryDefinitionError(f"{path}: compress must be yes or no, and yes only for a table; got {compress!r}")
    yearly = header.get("yearly", "no")
    if yearly not in ("yes", "no") or (yearly == "yes" and materialise != "table"):
        raise QueryDefinitionError(f"{path}: yearly must be yes or no, and yes only for a table; got {yearly!r}")
    uncompressed = tuple(_split(header.get("uncompressed", "none")))
    if uncompressed and compress != "yes":
        raise QueryDefinitionError(f"{path}: uncompressed columns need compress: yes; got {', '.join(uncompressed)}")
    body = text.rstrip().rstrip(";")
    return Query(header["name"], header["grain"], params, tuple(_split(header["depends"])), body, path, materialise,
                 compress == "yes", yearly == "yes", uncompressed)


def _split(value: str, strip: str = "") -> list[str]:
    if value.lower() in ("", "none"):
        return []
    return [v.strip().lstrip(strip) for v in value.split(",") if v.strip()]


def _inlined(query: Query) -> list[Query]:
    """The inline models `query` reads, directly or through other inline models, dependencies first."""
    found: list[Query] = []

    def visit(q: Query) -> None:
        for dep in q.models:
            d = load_query(dep)
            if d.materialise == "inline" and d not in found:
                visit(d)
                found.append(d)

    visit(query)
    return found


def composed(name: str) -> tuple[str, tuple[str, ...]]:
    """The SQL that runs model `name` on a connection (its inline dependencies as leading CTEs)
    and the parameters it binds (its own and theirs)."""
    query = load_query(name)
    inline = _inlined(query)
    params = tuple(dict.fromkeys(p for q in (*inline, query) for p in q.params))
    if not inline:
        return query.sql, params
    ctes = ",\n".join(f'"{q.name}" AS (\n{q.sql}\n)' for q in inline)
    return f'WITH {ctes}\nSELECT * FROM (\n{query.sql}\n) AS "{query.name}"', params


def prerequisites(names: Iterable[str]) -> list[str]:
    """The models that must exist on the connection before `names` run: their dependencies,
    looking through inline ones (which run as CTEs), in no particular order."""
    needed: dict[str, None] = {}
    for name in names:
        query = load_query(name)
        for q in (query, *_inlined(query)):
            needed.update((d, None) for d in q.models if load_query(d).materialise != "inline")
    return list(needed)


def dependency_order(names: Iterable[str]) -> list[Query]:
    """The requested models and every model they depend on, each after its dependencies."""
    order: list[Query] = []
    seen: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise QueryDefinitionError(f"dependency cycle: {' -> '.join((*path, name))}")
        if name in seen:
            return
        query = load_query(name)
        for dep in query.models:
            visit(dep, (*path, name))
        seen.add(name)
        order.append(query)

    for n in names:
        visit(n, ())
    return order


def declared_params(names: Iterable[str]) -> tuple[str, ...]:
    """Every parameter declared by the models `names` and their dependencies, sorted."""
    return tuple(sorted({p for q in dependency_order(names) for p in q.params}))


def _check_params(owner: str, declared: Iterable[str], params: Mapping[str, Any] | None) -> dict[str, Any]:
    given = dict(params or {})
    declared = set(declared)
    missing = sorted(declared - set(given))
    unknown = sorted(set(given) - declared)
    if missing or unknown:
        parts = []
        if missing:
            parts.append(f"missing {', '.join('$' + p for p in missing)}")
        if unknown:
            parts.append(f"unknown {', '.join('$' + p for p in unknown)}")
        listed = ", ".join("$" + p for p in sorted(declared)) or "none"
        raise ParameterError(
            f"The 'params' parameter of {owner} must give exactly the declared parameters ({listed}); "
            f"{' and '.join(parts)}. Pass a dict keyed by the names without '$'."
        )
    return given


def _require_sources(con: Any, queries: Iterable[Query]) -> None:
    needed = sorted({s for q in queries for s in q.sources})
    if not needed:
        return
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    absent = [s for s in needed if s not in present]
    if absent:
        raise DataError(
            f"extract table(s) {', '.join(absent)} are not registered on the connection; "
            "call impact.data.sources.register_extracts(con, directory) first"
        )


def query_relation(con: Any, name: str, params: Mapping[str, Any] | None = None) -> Any:
    """Model `name` with exactly its declared `params` (and those of its inline dependencies) bound, as
    a lazy DuckDB relation (nothing runs until it is read or written, e.g. by DuckDB's parallel
    parquet writer). The models in `prerequisites([name])` must already exist on `con` (see `build`)."""
    query = load_query(name)
    text, declared = composed(name)
    bound = _check_params(f"run_query({name!r})", declared, params)
    _require_sources(con, [query, *_inlined(query)])
    return con.sql(text, params=bound)


def query_reader(con: Any, name: str, params: Mapping[str, Any] | None = None, *, batch_rows: int = 131_072) -> Any:
    """`query_relation`'s rows as a pyarrow RecordBatchReader. Read the reader to the end before
    running anything else on `con`."""
    return query_relation(con, name, params).to_arrow_reader(batch_rows)


def run_query(con: Any, name: str, params: Mapping[str, Any] | None = None) -> pl.DataFrame:
    """Execute model `name` with exactly its declared `params` and return the rows as a polars DataFrame."""
    return pl.from_arrow(query_reader(con, name, params).read_all())  # type: ignore[return-value]


def build_plan(names: Iterable[str], params: Mapping[str, Any] | None) -> tuple[list[Query], list[Query], dict[str, Any]]:
    """For any engine: every model `names` need (dependency order), those to create (inline ones
    only when named) and the checked parameters, which must be exactly the union the models declare."""
    requested = list(dict.fromkeys(names))
    queries = dependency_order(requested)
    given = _check_params("build", {p for q in queries for p in q.params}, params)
    return queries, [q for q in queries if q.materialise != "inline" or q.name in requested], given


Passes = Callable[[Query], Sequence[Mapping[str, Any]] | None]
"""Given a model marked `yearly`, the bound parameters of each pass that builds it (or None: one pass)."""


def build(con: Any, names: Iterable[str], params: Mapping[str, Any] | None = None, *, compress: bool = False,
          passes: Passes | None = None, release: bool = False) -> list[str]:
    """Create `names` and their dependencies as TEMP tables (or views, per their header) in
    dependency order; returns the names created. Inline dependencies are not created (they run
    as CTEs of the models that read them); an inline model named in `names` is stored as a table.

    `params` must hold exactly the union of the parameters the models involved declare. With
    `compress=True` the tables marked `compress: yes` are stored in the connection's own database
    instead: a DuckDB database file holds them compressed, and DuckDB can drop them from memory
    without spilling them, where TEMP tables are held, and spill, uncompressed. `passes` gives, for a model
    marked `yearly`, the parameters of successive passes (each exactly those the model binds),
    whose rows are appended in turn: the first pass creates the table. With `release=True` a table
    or view built only for other models (not in `names`) is dropped once the last model reading it
    is built, so that it no longer holds memory (nationally, the 12M CIN intervals once the flags
    are folded).
    """
    names = list(names)
    queries, to_create, given = build_plan(names, params)
    _require_sources(con, queries)
    released = _release_after(to_create, names) if release else {}
    created = []
    for q in to_create:
        kind = "VIEW" if q.materialise == "view" else "TABLE"
        in_temp = not (compress and q.compress)
        _drop_other_objects(con, q.name, kind, in_temp)
        text, bound = composed(q.name)
        runs = (passes(q) if passes is not None and q.yearly else None) or [{p: given[p] for p in bound}]
        runs = [_check_params(f"build({q.name!r}) pass", bound, run) for run in runs]
        if q.uncompressed and not in_temp:
            con.execute(f'CREATE OR REPLACE TABLE "{q.name}" ({_columns(con, q, text, runs[0])})')
        else:
            con.execute(f'CREATE OR REPLACE {"TEMP " if in_temp else ""}{kind} "{q.name}" AS {text}', runs[0])
            runs = runs[1:]
        for run in runs:
            con.execute(f'INSERT INTO "{q.name}" {text}', run)
        created.append(q.name)
        for done in released.get(q.name, ()):
            con.execute(f'DROP {"VIEW" if done.materialise == "view" else "TABLE"} IF EXISTS "{done.name}"')
    return created


def _release_after(to_create: Sequence[Query], names: Sequence[str]) -> dict[str, list[Query]]:
    """Model -> the tables and views to drop once it is built: those among `to_create` that are not
    in `names`, nor read through a view in `names`, and that it is the last of `to_create` to read
    (directly, or through inline models and views, which read their tables when they run)."""
    kept = set(names) | {t for n in names if load_query(n).materialise == "view" for t in _reads_when_run(n)}
    last_reader: dict[str, str] = {}
    for q in to_create:
        for dep in _reads_when_run(q.name):
            last_reader[dep] = q.name
    releases: dict[str, list[Query]] = {}
    for q in to_create:
        if q.name not in kept and q.name in last_reader:
            releases.setdefault(last_reader[q.name], []).append(q)
    return releases


def _reads_when_run(name: str) -> set[str]:
    """The stored models that running `name` reads: its prerequisites and, through views, theirs."""
    found: set[str] = set()
    for dep in prerequisites([name]):
        found.add(dep)
        if load_query(dep).materialise == "view":
            found |= _reads_when_run(dep)
    return found


def _columns(con: Any, q: Query, text: str, params: Mapping[str, Any]) -> str:
    """The column definitions of `q`'s rows (as DuckDB binds its query), its `uncompressed` columns
    stored without compression."""
    columns = con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {text})", params).fetchall()
    missing = sorted(set(q.uncompressed) - {name for name, _ in columns})
    if missing:
        raise QueryDefinitionError(f"{q.path}: uncompressed names columns the query does not return: {', '.join(missing)}")
    return ", ".join(
        f'"{name}" {kind}' + (" USING COMPRESSION uncompressed" if name in q.uncompressed else "") for name, kind in columns
    )


def _drop_other_objects(con: Any, name: str, kind: str, in_temp: bool) -> None:
    """Drop the temporary or main-database tables and views called `name` other than the one about
    to be replaced, so that no stale object of another kind or place shadows the new one."""
    existing = con.execute(
        "SELECT 'TABLE', database_name, temporary FROM duckdb_tables() WHERE table_name = $name "
        "AND (temporary OR database_name = current_database()) AND schema_name = 'main' "
        "UNION ALL SELECT 'VIEW', database_name, temporary FROM duckdb_views() WHERE view_name = $name "
        "AND NOT internal AND (temporary OR database_name = current_database()) AND schema_name = 'main'",
        {"name": name},
    ).fetchall()
    for other, database, temp in existing:
        if (other, temp) != (kind, in_temp):
            con.execute(f'DROP {other} "{database}"."main"."{name}"')
