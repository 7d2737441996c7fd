"""The DuckDB -> Spark SQL transpile: every model transpiles with exactly its parameters, the
rewrites (ARG_MAX_NULL, day of week, division, rank types) give DuckDB's values on Spark, and CTEs
are inlined with DuckDB's scoping so that Spark reads cached models through them."""
from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from impact.sql import available_queries, composed

sqlglot = pytest.importorskip("sqlglot")

from impact.spark.transpile import spark_sql, transpile  # noqa: E402


@pytest.mark.parametrize("name", available_queries())
def test_every_model_transpiles_with_its_parameters(name):
    text, params = spark_sql(name)
    assert params == composed(name)[1]
    assert "$" not in text
    assert all(f":{p}" in text for p in params)


def test_no_duckdb_only_function_survives():
    for name in available_queries():
        text = spark_sql(name)[0].upper()
        for duckdb_only in ("ARG_MAX", "ARG_MAX_NULL", "DATE_DIFF(", "EXTRACT(DOW"):
            assert duckdb_only not in text, f"{name}: {duckdb_only} left in the Spark SQL"


def test_rewrites_in_text():
    out = transpile("SELECT ARG_MAX_NULL(x, k), EXTRACT(DOW FROM d), DAYOFWEEK(d), 10000.0 * a / b, "
                    "DENSE_RANK() OVER (ORDER BY a) FROM t")
    assert out == ("SELECT MAX_BY(x, k), CAST(DAYOFWEEK(d) - 1 AS BIGINT), CAST(DAYOFWEEK(d) - 1 AS BIGINT), "
                   "CAST(10000.0 * a AS DOUBLE) / b, CAST(DENSE_RANK() OVER (ORDER BY a NULLS LAST) AS BIGINT) FROM t")


def test_division_already_in_double_is_left_alone():
    assert transpile("SELECT CAST(a AS DOUBLE) / b FROM t") == "SELECT CAST(a AS DOUBLE) / b FROM t"


def test_more_than_one_statement_is_refused():
    with pytest.raises(ValueError, match="one SQL statement"):
        transpile("SELECT 1; SELECT 2")


REWRITE_CASES = {
    # 2024-01-07 is a Sunday: fourteen days cover every weekday twice
    "weekday": ("days", "SELECT d, EXTRACT(DOW FROM d) AS w, DAYOFWEEK(d) AS w2 FROM days ORDER BY d",
                [{"d": dt.date(2024, 1, 7) + dt.timedelta(days=i)} for i in range(14)]),
    "latest_with_null": ("vals", "SELECT g, ARG_MAX_NULL(x, k) AS x FROM vals GROUP BY g ORDER BY g",
                         [{"g": 1, "x": "a", "k": 1}, {"g": 1, "x": None, "k": 2},
                          {"g": 2, "x": "b", "k": 3}, {"g": 2, "x": "c", "k": 1}]),
    "rank_type": ("vals", "SELECT g, k, DENSE_RANK() OVER (ORDER BY g) AS r, ROW_NUMBER() OVER (ORDER BY k) AS n "
                  "FROM vals ORDER BY k", [{"g": 1, "k": 1}, {"g": 1, "k": 2}, {"g": 3, "k": 3}]),
    "division": ("nums", "SELECT a, b, 10000.0 * a / b AS r, a / b AS q FROM nums ORDER BY a, b",
                 [{"a": a, "b": b} for a in (1, 7, 123457) for b in (3, 11, 999983)]),
}


@pytest.mark.spark
@pytest.mark.parametrize("case", sorted(REWRITE_CASES))
def test_rewrites_give_duckdb_values_on_spark(spark, case):
    import pyarrow as pa

    view, sql, rows = REWRITE_CASES[case]
    data = pa.Table.from_pylist(rows)
    con = duckdb.connect()
    con.register(view, data)
    expected = con.sql(sql).to_arrow_table().to_pylist()
    spark.createDataFrame(rows, schema=_ddl(data.schema)).createOrReplaceTempView(view)
    got = spark.sql(transpile(sql)).toArrow()
    assert got.schema.types == con.sql(sql).to_arrow_table().schema.types
    assert got.to_pylist() == expected


def _ddl(schema) -> str:
    names = {"date32[day]": "date", "int64": "bigint", "string": "string"}
    return ", ".join(f"{f.name} {names[str(f.type)]}" for f in schema)


# a model (m) reading an inline model (dep) where both name a CTE b, CTEs reading earlier CTEs,
# and one CTE read twice: inlined innermost first, each name resolves as DuckDB resolves it
NESTED_CTES = ('WITH "dep" AS (WITH b AS (SELECT 1 AS x) SELECT x FROM b), c AS (SELECT x + 10 AS x FROM dep) '
               'SELECT * FROM (WITH b AS (SELECT 2 AS x) SELECT b.x AS y, c.x AS z FROM b, c '
               'UNION ALL SELECT x, x FROM dep) AS "m", c AS c2 ORDER BY y')


def test_ctes_are_inlined_with_duckdb_scoping():
    out = transpile(NESTED_CTES)
    assert "WITH" not in out.upper()
    assert duckdb.sql(out).fetchall() == duckdb.sql(NESTED_CTES).fetchall() == [(1, 1, 11), (2, 11, 11)]


def test_recursive_ctes_are_refused():
    with pytest.raises(ValueError, match="recursive"):
        transpile("WITH RECURSIVE r AS (SELECT 1 AS n UNION ALL SELECT n + 1 FROM r WHERE n < 3) SELECT * FROM r")


@pytest.mark.spark
def test_a_cached_model_read_inside_a_cte_is_read_from_the_cache(spark):
    spark.range(100).selectExpr("id AS x").createOrReplaceTempView("cached_model")
    spark.catalog.cacheTable("cached_model")
    try:
        plan = spark.sql(transpile("WITH c AS (SELECT x FROM cached_model WHERE x > 5) SELECT COUNT(*) FROM c"))
        assert "InMemoryRelation" in plan._jdf.queryExecution().optimizedPlan().toString()
    finally:
        spark.catalog.dropTempView("cached_model")
