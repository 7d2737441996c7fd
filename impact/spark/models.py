"""Build the SQL models of `queries/` on a SparkSession, as impact.sql.build does on DuckDB.

Each model runs as its transpiled Spark SQL with values bound as named parameters
(`spark.sql(text, args=...)`), never formatted into the text. `materialise: table` models become
temp views cached with `spark.catalog.cacheTable` (memory, spilling to disk) and computed at once,
so later models read them instead of recomputing (the transpiled SQL has no CTEs, inside which Spark
would not find them); `view` models become plain temp views; `inline` models run as subqueries of
the models that read them (impact.sql.composed), unless built by name.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from ..errors import DataError
from ..sql import Query, QueryDefinitionError, _check_params, build_plan, dependency_order, load_query
from .transpile import spark_sql


def _require_sources(spark: Any, queries: Iterable[Query]) -> None:
    absent = sorted({s for q in queries for s in q.sources if not spark.catalog.tableExists(s)})
    if absent:
        raise DataError(
            f"extract table(s) {', '.join(absent)} are not registered on the Spark session; "
            "call impact.spark.register_extracts(spark, data) first"
        )


def _dataframe(spark: Any, name: str, params: Mapping[str, Any]) -> Any:
    """Model `name`'s rows as a lazy Spark DataFrame; a Spark analysis error names the model's file."""
    from pyspark.errors import PySparkException

    text, declared = spark_sql(name)
    try:
        return spark.sql(text, args={p: params[p] for p in declared} or None)
    except PySparkException as exc:
        first = str(exc).strip().splitlines()[0]
        raise QueryDefinitionError(f"Spark cannot run the model {name} ({load_query(name).path}): {first}") from None


def materialise(spark: Any, query: Query, params: Mapping[str, Any]) -> None:
    """Create the model as a temp view, cached and computed now unless its header says `view`."""
    drop(spark, [query.name])
    _dataframe(spark, query.name, params).createOrReplaceTempView(query.name)
    if query.materialise != "view":
        spark.catalog.cacheTable(query.name)
        spark.table(query.name).count()


def build(spark: Any, names: Iterable[str], params: Mapping[str, Any] | None = None) -> list[str]:
    """Create `names` and their dependencies in dependency order (inline ones only when named);
    returns the names created. `params` must hold exactly the union of the parameters the models
    involved declare."""
    queries, to_create, given = build_plan(names, params)
    _require_sources(spark, queries)
    created = []
    for q in to_create:
        materialise(spark, q, given)
        created.append(q.name)
    return created


def run_query(spark: Any, name: str, params: Mapping[str, Any] | None = None) -> Any:
    """Model `name` with exactly the parameters it binds, as a lazy Spark DataFrame; the models in
    impact.sql.prerequisites([name]) must already exist on the session (see `build`)."""
    bound = _check_params(f"run_query({name!r})", spark_sql(name)[1], params)
    _require_sources(spark, dependency_order([name]))
    return _dataframe(spark, name, bound)


def drop(spark: Any, names: Iterable[str]) -> None:
    """Drop the temp views `names` (and their cached rows) where they exist."""
    for name in names:
        spark.catalog.dropTempView(name)


def collect(frame: Any) -> pl.DataFrame:
    """A Spark DataFrame's rows on the driver as a polars DataFrame, through Arrow."""
    return pl.from_arrow(frame.toArrow())  # type: ignore[return-value]
