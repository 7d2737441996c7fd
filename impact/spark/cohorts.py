"""Cohort builders on Spark: the same entry points and options as impact.cohorts, run inside Spark.

`data` is an extract directory, a {table: catalog table or [tables]} mapping (e.g. Databricks
tables), or a SparkSession on which the extracts are already registered as temp views named as
in `impact.data.contracts`. `spark` is the session for a directory or mapping (None: the active
session, else a local `local[2]` one that is stopped afterwards). Staging, flags, the cohort and
the outcome panels are built in Spark, with `ever_*` columns labelled `ever{L}_*` as on DuckDB.
`cohort_views` hands the built tables out as lazy Spark DataFrames; every other entry point
collects the requested table, through Arrow, as a polars DataFrame.
"""
from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import polars as pl

from ..cohorts import TABLES, CohortOptions, _for_tables
from ..data.contracts import CONTRACTS
from ..errors import ParameterError
from ..params import check_choice
from ..sql import prerequisites
from .models import build, collect, drop, run_query
from .session import is_session, open_session, require_pyspark
from .sources import register_empty, register_extracts, register_missing_tables


@contextmanager
def extracts_session(data: Any, spark: Any = None, owner: str = "impact.spark") -> Iterator[Any]:
    """A SparkSession with every contract table registered: `data` itself, or `spark` (or the
    active / a local session) with the extracts of a directory or table mapping registered."""
    require_pyspark()
    if is_session(data):
        register_missing_tables(data)
        yield data
        return
    if not (isinstance(data, Mapping) or (isinstance(data, (str, os.PathLike)) and os.path.isdir(data))):
        raise ParameterError(
            f"The 'data' parameter of {owner} must be an extract directory, a {{table: catalog table}} mapping "
            f"or a SparkSession with the extracts registered. Got {data!r} instead."
        )
    with open_session(spark, owner) as active:
        found = register_extracts(active, data)
        absent = [name for name in CONTRACTS if name not in found]  # read as empty, whatever the session holds
        register_empty(active, absent)
        registered = [*found, *absent]
        try:
            yield active
        finally:
            drop(active, registered)


@contextmanager
def _views(data: Any, owner: str, spark: Any, names: list[str], options: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """The output tables `names` as labelled lazy Spark DataFrames over one build of the stored models
    they read; the built models are dropped on exit."""
    models = [TABLES[n] for n in names]
    opts = _for_tables(CohortOptions.checked(owner, **options), models)  # the narrow grid unless a table needs all
    tag = f"ever{opts.lookback_years}_"
    with extracts_session(data, spark, owner) as active:
        deps = prerequisites(models)
        built = build(active, deps, opts.sql_params(deps))
        try:
            frames = {n: active.table(m) if m in built else run_query(active, m, opts.sql_params([m], own=True))
                      for n, m in zip(names, models)}
            yield {n: f.withColumnsRenamed({c: tag + c[5:] for c in f.columns if c.startswith("ever_")})
                   for n, f in frames.items()}
        finally:
            drop(active, built)


def _tables(data: Any, owner: str, spark: Any, names: list[str], options: Mapping[str, Any]) -> list[pl.DataFrame]:
    """The rows of the output tables `names` from one build, collected."""
    with _views(data, owner, spark, names, options) as frames:
        return [collect(frames[n]) for n in names]


def _frame(data: Any, table: str, owner: str, options: Mapping[str, Any], spark: Any) -> pl.DataFrame:
    return _tables(data, owner, spark, [table], options)[0]


def build_cohort(data: Any, *, spark: Any = None, **options: Any) -> pl.DataFrame:
    """Pupil x census year with flags, `cohort`, `treated` and `exclusion_reason` (impact.cohorts.build_cohort)."""
    return _frame(data, "cohort", "build_cohort", options, spark)


def attendance_panel(data: Any, *, spark: Any = None, **options: Any) -> pl.DataFrame:
    """Cohort rows x that year's absence and exclusions (impact.cohorts.attendance_panel)."""
    return _frame(data, "attendance_panel", "attendance_panel", options, spark)


def ks4_cohort(data: Any, *, spark: Any = None, **options: Any) -> pl.DataFrame:
    """KS4 pupils of the cohort years with their Year 11 cohort assignment (impact.cohorts.ks4_cohort)."""
    return _frame(data, "ks4_cohort", "ks4_cohort", options, spark)


def post16_panel(data: Any, *, years: Any, spark: Any = None) -> pl.DataFrame:
    """Care leavers' EET activity at 17 and 18 with the PP+ pilot wave (impact.cohorts.post16_panel)."""
    return _frame(data, "post16_panel", "post16_panel", {"years": years}, spark)


def covariates(data: Any, *, spark: Any = None, **options: Any) -> pl.DataFrame:
    """Pupil characteristics at the baseline spring census (impact.cohorts.covariates)."""
    return _frame(data, "covariates", "covariates", options, spark)


def attrition(data: Any, *, spark: Any = None, **options: Any) -> pl.DataFrame:
    """Counts after each filter by LA and year (impact.cohorts.attrition)."""
    return _frame(data, "attrition", "attrition", options, spark)


def _names(owner: str, tables: Any) -> list[str]:
    """The output tables asked for (default all of TABLES), each checked to be one."""
    names = list(TABLES) if tables is None else list(tables)
    for name in names:
        check_choice(owner, "tables", name, tuple(TABLES))
    return names


def cohort_tables(data: Any, *, tables: Any = None, spark: Any = None, **options: Any) -> dict[str, pl.DataFrame]:
    """Several output tables (default all of impact.cohorts.TABLES) from one build of the shared
    models; the Spark counterpart of impact.cohorts.write_cohorts and build_analysis_tables."""
    names = _names("cohort_tables", tables)
    return dict(zip(names, _tables(data, "cohort_tables", spark, names, options)))


@contextmanager
def cohort_views(data: Any, *, tables: Any = None, spark: Any = None, **options: Any) -> Iterator[dict[str, Any]]:
    """Several output tables (default all of impact.cohorts.TABLES) as lazy pyspark DataFrames, nothing collected.

    A context manager: the shared models are built once on entry (cached temp views) and the
    yielded frames read them, so they are valid only inside the `with` block; the models are
    dropped on exit. Options as in `cohort_tables`. For estimating without collecting rows, e.g.
    with impact.spark.did_statistics::

        with cohort_views(spark, tables=["attendance_panel"], years=range(2016, 2024)) as views:
            panel = views["attendance_panel"]
    """
    names = _names("cohort_views", tables)
    with _views(data, "cohort_views", spark, names, options) as frames:
        yield frames
