"""The DuckDB -> Spark SQL transpile: every model transpiles with exactly its parameters, and the
three rewrites (ARG_MAX_NULL, day of week, division) give DuckDB's values on Spark."""
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


def test_repeated_cte_names_across_inline_models_are_refused(monkeypatch):
    import importlib

    tr = importlib.import_module("impact.spark.transpile")
    from impact.sql import QueryDefinitionError, load_query

    text = 'WITH "dep" AS (WITH b AS (SELECT 1 AS x) SELECT * FROM b) SELECT * FROM (WITH b AS (SELECT 2 AS y) SELECT * FROM b, dep) AS "m"'
    monkeypatch.setattr(tr, "composed", lambda name: (text, ()))
    monkeypatch.setattr(tr, "load_query", lambda name: load_query("attrition"))
    tr.spark_sql.cache_clear()
    try:
        with pytest.raises(QueryDefinitionError, match="CTE name"):
            tr.spark_sql("fake_model")
    finally:
        tr.spark_sql.cache_clear()
