"""Cohort builders: the Ever-L CWSW / Ever6 FSM cohorts, outcome panels and covariates from NPD extracts.

Each entry point takes `data` (an extract directory, or a DuckDB connection on which the
extract tables are registered as views named as in `impact.data.contracts`), builds the SQL
models of `queries/` it needs with bound parameters, and returns a polars DataFrame.
Columns `ever_*` of the SQL are labelled `ever{L}_*` for the look-back `L` (default `ever6_*`).
`pupil_id` (and `child_id` in the post-16 panel) are identifiers kept for panel fixed effects;
the disclosure layer strips them before anything is released.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

import duckdb
import polars as pl
import pyarrow as pa

from .data.contracts import CONTRACTS, TableContract
from .errors import ParameterError
from .params import check_choice, check_number
from .sql import Query, build, composed, dependency_order, prerequisites, query_relation, run_query

COMPARISONS = ("ever6_fsm_not_cwsw", "not_cwsw")
DEFINITIONS = ("episode", "plan")
HIGHEST_LEVELS = ("CIN", "CPP", "CLA")

TABLES: dict[str, str] = {
    "cohort": "cohort_pupil_census",
    "attendance_panel": "out_attendance_panel",
    "ks4_cohort": "out_ks4",
    "post16_panel": "out_post16",
    "covariates": "cov_baseline",
    "attrition": "attrition",
}
"""Output table name -> the SQL model that produces it (the files `write_cohorts` writes)."""

ANALYSIS_PANELS: dict[str, str] = {"attendance": "attendance_panel", "ks4": "ks4_cohort"}
"""`build_analysis_tables`' panel choice -> its output table."""

DUCKDB_SETTINGS: dict[str, Any] = {"threads": 3, "memory_limit": "4.5GB", "preserve_insertion_order": False}
"""Settings of the connections the entry points open: national-size extracts (about 70M pupil-years)
are built within 6 GB on 2 cores, DuckDB spilling to the temporary directory beyond `memory_limit`;
one thread more than the 2 cores, so that a thread waiting on storage or a lock leaves no core idle
(national build: busiest-thread CPU 103-112 s against 139-160 s with 2 threads);
row order is not kept (every output is a set; callers sort). Stored tables are compressed as DuckDB
chooses, strings included: nationally, turning off string compression spilled 1.1 GB more and was slower."""

_ARROW_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "date": pa.date32(), "flag": pa.int8()}


def contract_schema(contract: TableContract) -> pa.Schema:
    """The Arrow schema of a contract's columns (flags as int8), used for empty optional tables."""
    return pa.schema([(c.name, _ARROW_TYPES[c.kind]) for c in contract.columns])


def register_missing_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Register an empty, typed table for every contract table the connection lacks; returns their names.

    Optional extracts (autumn/summer census, care leavers, the pilot list) may be absent; the
    SQL then reads them as empty.
    """
    present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    added = []
    for name, contract in CONTRACTS.items():
        if name not in present:
            con.register(name, contract_schema(contract).empty_table())
            added.append(name)
    return added


@dataclass(frozen=True)
class CohortOptions:
    """The checked parameters of a cohort build (the names the YAML spec uses)."""

    years: tuple[int, ...]
    lookback_years: int = 6
    treated: str = "ever6_cwsw"
    exclude_cla: bool = False
    current_only: bool = False
    highest_level: str | None = None
    comparison: str = "ever6_fsm_not_cwsw"
    include_nfa: bool = False
    include_not_in_need: bool = False
    definition: str = "episode"
    exclude_short_breaks: bool = True
    baseline_year: int | None = None
    keep_excluded: bool = False
    narrow_grid: ClassVar[bool] = False
    """Not an option: True in the options `_for_tables` gives when no table built needs every
    pupil-year, so that the stored grid may hold only the pupil-years that can be treated or comparison."""

    @classmethod
    def checked(cls, owner: str, **options: Any) -> CohortOptions:
        """Validate and normalise options; unknown names and bad values raise ParameterError."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ParameterError(
                f"{owner} got unknown option(s) {', '.join(unknown)}; the options are {', '.join(known)}"
            )
        if "years" not in options:
            raise ParameterError(f"The 'years' parameter of {owner} is required (e.g. years=range(2016, 2024)).")
        years = _check_years(owner, options["years"])
        opts = {**{k: f.default for k, f in known.items() if k != "years"}, **options, "years": years}
        lookback = check_number(owner, "lookback_years", opts["lookback_years"], low=1, high=18, integer=True)
        check_choice(owner, "treated", opts["treated"], (f"ever{lookback}_cwsw",))
        for flag in ("exclude_cla", "current_only", "include_nfa", "include_not_in_need", "exclude_short_breaks", "keep_excluded"):
            check_choice(owner, flag, opts[flag], (True, False))
            opts[flag] = bool(opts[flag])
        check_choice(owner, "highest_level", opts["highest_level"], (None, *HIGHEST_LEVELS))
        check_choice(owner, "comparison", opts["comparison"], COMPARISONS)
        check_choice(owner, "definition", opts["definition"], DEFINITIONS)
        if opts["exclude_cla"] and opts["highest_level"] == "CLA":
            raise ParameterError(
                f"The 'highest_level' parameter of {owner} cannot be 'CLA' when exclude_cla=True "
                "(no pupil would be treated). Drop one of the two."
            )
        if opts["baseline_year"] is None:
            opts["baseline_year"] = years[0]
        check_choice(owner, "baseline_year", opts["baseline_year"], years)
        return cls(**opts)

    def sql_params(self, models: Iterable[str], *, own: bool = False) -> dict[str, Any]:
        """Bound values for exactly the parameters the models declare: with all their dependencies,
        or if `own` only those the models bind when run (their own and their inline dependencies').
        Besides the options: `census_years` (the years as a list), `census_label_starts`, the
        text that opens each year's AcademicYear label ('2021' for 2022), for year filters that
        reach the parquet statistics, and `candidates_only` (the grid holds only the pupil-years
        that can be treated or comparison: `narrow_grid`, the default comparison, no `keep_excluded`)."""
        values = {k: v for k, v in asdict(self).items() if k not in ("years", "treated")}
        values["census_years"] = list(self.years)
        values["census_label_starts"] = [str(y - 1) for y in self.years]
        values["candidates_only"] = self.narrow_grid and self.comparison == "ever6_fsm_not_cwsw" and not self.keep_excluded
        if own:
            return {p: values[p] for m in models for p in composed(m)[1]}
        return {p: values[p] for q in dependency_order(models) for p in q.params}

    def yearly_passes(self, query: Query) -> list[dict[str, Any]] | None:
        """For a model marked `yearly`, the parameters of one build pass per census year (the
        model's rows of different years are independent); None when there is one year."""
        if len(self.years) < 2:
            return None
        return [replace(self, years=(y,), baseline_year=y).sql_params([query.name], own=True) for y in self.years]

    def label(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Rename the SQL's `ever_*` columns to `ever{L}_*`."""
        tag = f"ever{self.lookback_years}_"
        return frame.rename({c: tag + c[5:] for c in frame.columns if c.startswith("ever_")})


def _check_years(owner: str, years: Any) -> tuple[int, ...]:
    values = [years] if isinstance(years, int) else years
    rule = "an int or a non-empty sequence of ints (academic-year end, e.g. 2022 for 2021/2022)"
    try:
        out = tuple(sorted({int(check_number(owner, "years", y, low=1990, high=2100, integer=True)) for y in values}))
    except TypeError:
        raise ParameterError(f"The 'years' parameter of {owner} must be {rule}. Got {years!r} instead.") from None
    if not out:
        raise ParameterError(f"The 'years' parameter of {owner} must be {rule}. Got {years!r} instead.")
    return out


MODELS_FILE = "impact-models.duckdb"
"""The database file, inside a connection's spill folder, where `connect`'s connections store built models."""


def connect(temp_directory: str | os.PathLike[str], **settings: Any) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with `DUCKDB_SETTINGS` (overridden by `settings`), spilling to
    `temp_directory` (give a run's temporary folder, never the working directory, DuckDB's default).

    Its database is a file in that folder: the entry points store the pupil x census grid (and the
    CIN intervals and flag tables the grid's yearly passes read) there, compressed, where DuckDB
    can drop them from memory without spilling them (a TEMP table is held, or spilled,
    uncompressed: 14 GB for the national grid), so that the build stays within `memory_limit`.
    """
    folder = Path(temp_directory)
    folder.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(str(folder / MODELS_FILE), config={**DUCKDB_SETTINGS, **settings, "temp_directory": str(folder)})


def _owns_database(con: duckdb.DuckDBPyConnection) -> bool:
    """True for a connection made by `connect` (large models may be stored in its database file);
    other connections get TEMP tables only, so that nothing is written to a caller's database."""
    rows = con.execute(
        "SELECT path = current_setting('temp_directory') || '/' || $file FROM duckdb_databases() "
        "WHERE database_name = current_database()",
        {"file": MODELS_FILE},
    ).fetchall()
    return bool(rows and rows[0][0])


@contextmanager
def _connect(data: Any, owner: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection with every contract table registered: the caller's, or a new one over an extract directory."""
    if isinstance(data, duckdb.DuckDBPyConnection):
        register_missing_tables(data)
        yield data
        return
    if not isinstance(data, (str, os.PathLike)) or not Path(data).is_dir():
        raise ParameterError(
            f"The 'data' parameter of {owner} must be an extract directory or a DuckDB connection "
            f"with the extracts registered. Got {data!r} instead."
        )
    from .data.sources import register_extracts

    spill = tempfile.mkdtemp(prefix="impact-duckdb-")
    con = connect(Path(spill) / "spill")
    try:
        register_extracts(con, data)
        register_missing_tables(con)
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


@dataclass(frozen=True)
class _NarrowGridOptions(CohortOptions):
    """Options whose build may store the narrow grid (see `CohortOptions.sql_params`)."""

    narrow_grid: ClassVar[bool] = True


def _for_tables(opts: CohortOptions, models: Iterable[str]) -> CohortOptions:
    """The options for building `models`: a narrow grid unless the cohort table (every pupil-year) is among them."""
    if TABLES["cohort"] in models:
        return opts
    return _NarrowGridOptions(**{f.name: getattr(opts, f.name) for f in fields(opts)})


def _frame(data: Any, table: str, owner: str, options: Mapping[str, Any]) -> pl.DataFrame:
    model = TABLES[table]
    opts = _for_tables(CohortOptions.checked(owner, **options), [model])
    with _connect(data, owner) as con:
        deps = prerequisites([model])
        build(con, deps, opts.sql_params(deps), compress=_owns_database(con), passes=opts.yearly_passes, release=True)
        frame = run_query(con, model, opts.sql_params([model], own=True))
    return opts.label(frame)


def build_cohort(
    data: Any,
    *,
    years: Any,
    lookback_years: int = 6,
    treated: str = "ever6_cwsw",
    exclude_cla: bool = False,
    current_only: bool = False,
    highest_level: str | None = None,
    comparison: str = "ever6_fsm_not_cwsw",
    include_nfa: bool = False,
    include_not_in_need: bool = False,
    definition: str = "episode",
    exclude_short_breaks: bool = True,
) -> pl.DataFrame:
    """Pupil x census year at the spring census of `years`: social-care and FSM flags, `cohort`
    ('treated' / 'comparison' / 'excluded'), `treated` (1/0/null) and `exclusion_reason`.

    Rules: docs/explanation/definitions.md; parameters: docs/explanation/cohort-sql.md.
    """
    options = {k: v for k, v in locals().items() if k != "data"}
    return _frame(data, "cohort", "build_cohort", options)


def attendance_panel(data: Any, **options: Any) -> pl.DataFrame:
    """Cohort rows (pupil x academic year) with absence rates, persistent/severe absence, COVID-year
    flags, suspensions and permanent exclusions. Options: those of `build_cohort` plus `keep_excluded`."""
    return _frame(data, "attendance_panel", "attendance_panel", options)


def ks4_cohort(data: Any, **options: Any) -> pl.DataFrame:
    """KS4 pupils of the cohort years with the Year 11 cohort assignment, att8, p8 (null where
    unpublished), em94, em95, ebacc_entry, grading_regime and ever6_fsm_years (FSM-eligible spring
    censuses in Years 6-11). Options: `build_cohort`'s plus `keep_excluded`."""
    return _frame(data, "ks4_cohort", "ks4_cohort", options)


def post16_panel(data: Any, *, years: Any) -> pl.DataFrame:
    """Care leavers' EET activity at 17 and 18 in the collection `years`, with PP+ pilot first year and wave."""
    return _frame(data, "post16_panel", "post16_panel", {"years": years})


def covariates(data: Any, **options: Any) -> pl.DataFrame:
    """Pupil characteristics at the spring census of `baseline_year` (default: the first of `years`,
    and it must be one of them), including the LA's CWSW count and rate bands."""
    return _frame(data, "covariates", "covariates", options)


def attrition(data: Any, **options: Any) -> pl.DataFrame:
    """Counts after each filter (census, CIN/CLA linkage, exclusions, cohort by reason) by LA and year."""
    return _frame(data, "attrition", "attrition", options)


def write_cohorts(
    data: Any,
    out: str | os.PathLike[str],
    *,
    tables: Iterable[str] | None = None,
    batch_rows: int = 122_880,
    **options: Any,
) -> dict[str, Path]:
    """Write the cohort tables as `<out>/<table>.parquet`; the function the CLI `impact cohorts` calls.

    Models are built once; each table is streamed to a temporary directory inside `out` and all
    files are moved into place only when every table is complete, so a failed or killed run
    leaves no partial file. batch_rows: rows per parquet row group (DuckDB rounds it up to whole
    2,048-row chunks). Returns table name -> path.
    """
    owner = "write_cohorts"
    names = list(TABLES) if tables is None else list(tables)
    for name in names:
        check_choice(owner, "tables", name, tuple(TABLES))
    opts = CohortOptions.checked(owner, **options)
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    models = [TABLES[n] for n in names]
    with _connect(data, owner) as con:
        relations = _build_shared(con, models, opts)
        staging = Path(tempfile.mkdtemp(prefix=".impact-cohorts-", dir=out_dir))
        try:
            written = {}
            for name, model in zip(names, models):
                path = staging / f"{name}.parquet"
                written[name] = _write_parquet(relations[model](), path, opts.lookback_years, batch_rows)
            final = {}
            for name, path in written.items():
                final[name] = out_dir / path.name
                os.replace(path, final[name])
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return final


def _build_shared(
    con: duckdb.DuckDBPyConnection, models: list[str], opts: CohortOptions
) -> dict[str, Callable[[], duckdb.DuckDBPyRelation]]:
    """Build once every stored model that `models` read; returns, per model, a function giving a lazy
    relation of its rows (the stored table where the model is one, else its query)."""
    opts = _for_tables(opts, models)
    deps = prerequisites(models)
    built = set(build(con, deps, opts.sql_params(deps), compress=_owns_database(con), passes=opts.yearly_passes,
                      release=True))

    def relation(model: str) -> Callable[[], duckdb.DuckDBPyRelation]:
        if model in built:
            return lambda: con.table(model)
        return lambda: query_relation(con, model, opts.sql_params([model], own=True))

    return {m: relation(m) for m in models}


def build_analysis_tables(data: Any, *, panel: str = "attendance", **options: Any) -> dict[str, pl.DataFrame]:
    """The panel (`panel="attendance"`: the attendance panel; `"ks4"`: the KS4 cohort), the baseline
    covariates and the attrition record from ONE build of the shared models on `data` (a
    connection, e.g. from `connect`, or an extract directory). Options: those of `attendance_panel`.

    Returns {"panel", "covariates", "attrition"} -> polars DataFrame, columns labelled as by the
    single-table entry points (`attendance_panel`, `ks4_cohort`, `covariates`, `attrition`).
    """
    owner = "build_analysis_tables"
    check_choice(owner, "panel", panel, tuple(ANALYSIS_PANELS))
    opts = CohortOptions.checked(owner, **options)
    tables = {"panel": TABLES[ANALYSIS_PANELS[panel]], "covariates": TABLES["covariates"], "attrition": TABLES["attrition"]}
    with _connect(data, owner) as con:
        relations = _build_shared(con, list(tables.values()), opts)
        return {key: opts.label(pl.from_arrow(relations[model]().to_arrow_reader(131_072).read_all()))
                for key, model in tables.items()}


def _write_parquet(rows: duckdb.DuckDBPyRelation, path: Path, lookback_years: int, row_group_rows: int) -> Path:
    """Write `rows` with DuckDB's parallel parquet writer, `ever_` columns named for the window
    (`ever6_cwsw`); nationally a single-threaded writer fed from Arrow batches held a core alone."""
    tag = f"ever{lookback_years}_"
    renamed = ", ".join(f'"{n}" AS "{tag + n[5:] if n.startswith("ever_") else n}"' for n in rows.columns)
    rows.project(renamed).write_parquet(str(path), row_group_size=row_group_rows)
    return path
