"""The query loader: headers, declared parameters, dependency order, errors that teach."""
from __future__ import annotations

import duckdb
import pytest

from impact import sql
from impact.cohorts import CohortOptions, build_cohort
from impact.errors import DataError, ParameterError

from .extracts import connect


def test_every_model_has_a_valid_header():
    names = sql.available_queries()
    assert {"stg_census", "flag_pupil_census", "cohort_pupil_census", "out_attendance_panel", "out_ks4",
            "out_post16", "cov_baseline", "attrition"} <= set(names)
    for name in names:
        q = sql.load_query(name)  # raises if declared params differ from the $params used
        assert q.name == name and q.grain
        assert name.split("_")[0] in {"stg", "flag", "cohort", "out", "cov", "attrition"}


def test_dependency_order_puts_dependencies_first():
    order = [q.name for q in sql.dependency_order(["cohort_pupil_census"])]
    for q in sql.dependency_order(["cohort_pupil_census"]):
        for dep in q.models:
            assert order.index(dep) < order.index(q.name)
    assert order[-1] == "cohort_pupil_census"


def test_run_query_names_missing_and_unknown_params():
    con = connect()
    sql.build(con, ["stg_census_dates"])
    with pytest.raises(ParameterError, match=r"missing \$lookback_years.*unknown \$lookback"):
        sql.run_query(con, "flag_social_care", {"census_years": [2023], "lookback": 6, "include_nfa": False,
                                                 "include_not_in_need": False, "exclude_short_breaks": True})
    with pytest.raises(ParameterError, match=r"unknown \$census_years"):
        sql.run_query(con, "stg_census", {"census_years": [2023]})


def test_build_requires_the_union_of_declared_params():
    con = connect()
    assert sql.declared_params(["flag_pupil_census"]) == (
        "candidates_only", "census_label_starts", "census_years", "definition", "exclude_short_breaks", "include_nfa",
        "include_not_in_need", "lookback_years")
    with pytest.raises(ParameterError, match=r"missing \$definition"):
        sql.build(con, ["flag_pupil_census"], {"candidates_only": False, "census_years": [2023], "census_label_starts": ["2022"],
                                               "lookback_years": 6, "include_nfa": False,
                                               "include_not_in_need": False, "exclude_short_breaks": True})


def test_unknown_model_and_unregistered_extract():
    with pytest.raises(ParameterError, match="No SQL model named 'stg_nothing'"):
        sql.load_query("stg_nothing")
    with pytest.raises(DataError, match="spring_census.*register_extracts"):
        sql.build(duckdb.connect(), ["stg_census"])


def test_malformed_query_files_are_rejected(tmp_path, monkeypatch):
    (tmp_path / "bad_params.sql").write_text(
        "-- name: bad_params\n-- grain: x\n-- params: $a\n-- depends: none\nSELECT $a, $b\n")
    (tmp_path / "bad_header.sql").write_text("-- name: other\n-- grain: x\n-- params: none\n-- depends: none\nSELECT 1\n")
    (tmp_path / "bad_yearly.sql").write_text(
        "-- name: bad_yearly\n-- grain: x\n-- params: none\n-- depends: none\n-- materialise: view\n-- yearly: yes\nSELECT 1\n")
    (tmp_path / "bad_uncompressed.sql").write_text(
        "-- name: bad_uncompressed\n-- grain: x\n-- params: none\n-- depends: none\n-- uncompressed: pupil_id\nSELECT 1\n")
    monkeypatch.setattr(sql, "query_dirs", lambda: (tmp_path,))
    sql.load_query.cache_clear()
    try:
        with pytest.raises(sql.QueryDefinitionError, match="uncompressed columns need compress: yes; got pupil_id"):
            sql.load_query("bad_uncompressed")
        with pytest.raises(sql.QueryDefinitionError, match=r"declared params \['a'\].*\['a', 'b'\]"):
            sql.load_query("bad_params")
        with pytest.raises(sql.QueryDefinitionError, match="differs from the file name"):
            sql.load_query("bad_header")
        with pytest.raises(sql.QueryDefinitionError, match="yearly must be yes or no, and yes only for a table"):
            sql.load_query("bad_yearly")
    finally:
        sql.load_query.cache_clear()


def test_uncompressed_columns_are_stored_as_written(tmp_path, monkeypatch):
    # With compress=True a `compress: yes` table is stored in the connection's database, compressed
    # except for its `uncompressed` columns; the rows are those of the query, pass after pass.
    head = "-- params: $n\n-- depends: none\n-- compress: yes\n-- uncompressed: {cols}\n-- yearly: yes\n"
    body = "SELECT printf('%016X', HASH(i)) AS pupil_id, printf('%04d', i % 7) AS code, i FROM range($n) AS r(i)\n"
    (tmp_path / "kept.sql").write_text("-- name: kept\n-- grain: x\n" + head.format(cols="pupil_id") + body)
    (tmp_path / "unknown.sql").write_text("-- name: unknown\n-- grain: x\n" + head.format(cols="pupil") + body)
    monkeypatch.setattr(sql, "query_dirs", lambda: (tmp_path,))
    sql.load_query.cache_clear()
    try:
        con = duckdb.connect(str(tmp_path / "models.duckdb"))
        sql.build(con, ["kept"], {"n": 0}, compress=True, passes=lambda q: [{"n": 150_000}, {"n": 100_000}])
        con.execute("CHECKPOINT")
        methods = dict(con.execute(
            "SELECT column_name, LIST(DISTINCT compression ORDER BY compression) FROM pragma_storage_info('kept') "
            "WHERE segment_type <> 'VALIDITY' AND compression <> 'Constant' GROUP BY ALL").fetchall())
        assert methods["pupil_id"] == ["Uncompressed"] and "Uncompressed" not in methods["code"]
        both = f"{body.replace('$n', '150000')} UNION ALL {body.replace('$n', '100000')}"
        expected = con.execute(f"SELECT COUNT(*), SUM(HASH(pupil_id, code, i)) FROM ({both})").fetchall()
        assert con.execute("SELECT COUNT(*), SUM(HASH(pupil_id, code, i)) FROM kept").fetchall() == expected
        with pytest.raises(sql.QueryDefinitionError, match="uncompressed names columns the query does not return: pupil"):
            sql.build(con, ["unknown"], {"n": 10}, compress=True)
        sql.build(con, ["kept"], {"n": 10})  # without compress=True: a TEMP table, compressed as DuckDB chooses
        assert con.execute("SELECT COUNT(*) FROM temp.kept").fetchall() == [(10,)]
    finally:
        sql.load_query.cache_clear()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"years": [2023], "definition": "plans"}, r"'definition' parameter of build_cohort must be one of 'episode', 'plan'"),
        ({"years": [2023], "lookback_years": 5}, r"'treated' parameter .* one of 'ever5_cwsw'. Got 'ever6_cwsw'"),
        ({"years": [2023], "exclude_cla": True, "highest_level": "CLA"}, "cannot be 'CLA' when exclude_cla=True"),
        ({"years": [2023], "baseline_year": 2019}, r"'baseline_year' parameter .* one of 2023"),
        ({"years": []}, "'years' parameter"),
        ({"years": [2023], "include_nfa": "yes"}, "'include_nfa' parameter"),
        ({"years": [2023], "lookbak_years": 6}, "unknown option"),
    ],
)
def test_option_errors(options, message):
    with pytest.raises(ParameterError, match=message):
        CohortOptions.checked("build_cohort", **options)


def test_data_argument_is_checked():
    with pytest.raises(ParameterError, match="'data' parameter of build_cohort must be an extract directory"):
        build_cohort(42, years=2023)


def test_release_drops_each_intermediate_model_after_its_last_reader(tmp_path, monkeypatch):
    # intervals (table) <- folded (table) <- decoded (inline) <- grid (table), with the view
    # lookup reading intervals; report reads grid, and through the view, intervals.
    models = {
        "intervals": ("none", "table", "SELECT * FROM range(5) AS r(i)"),
        "folded": ("intervals", "table", "SELECT SUM(i) AS s FROM intervals"),
        "lookup": ("intervals", "view", "SELECT MAX(i) AS m FROM intervals"),
        "decoded": ("folded", "inline", "SELECT s * 2 AS s2 FROM folded"),
        "grid": ("decoded", "table", "SELECT s2 FROM decoded"),
        "report": ("grid, lookup", "table", "SELECT s2, m FROM grid, lookup"),
    }
    for name, (depends, kind, body) in models.items():
        (tmp_path / f"{name}.sql").write_text(
            f"-- name: {name}\n-- grain: x\n-- params: none\n-- depends: {depends}\n-- materialise: {kind}\n{body}\n")
    monkeypatch.setattr(sql, "query_dirs", lambda: (tmp_path,))
    sql.load_query.cache_clear()

    def tables(con):
        return {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}

    try:
        con = duckdb.connect()
        executed = []
        class Logged:  # the statements build runs, in order
            def execute(self, text, *args):
                executed.append(" ".join(text.split()[:7]))
                return con.execute(text, *args)
        created = sql.build(Logged(), iter(["report"]), release=True)  # names read twice: any iterable
        assert created == ["intervals", "folded", "grid", "lookup", "report"]
        # folded is dropped right after grid (which reads it through the inline decoded) is
        # created; intervals, grid and the view only after report, which reads intervals through it
        made = [s for s in executed if s.startswith(("CREATE", "DROP TABLE", "DROP VIEW"))]
        assert made == [
            'CREATE OR REPLACE TEMP TABLE "intervals" AS', 'CREATE OR REPLACE TEMP TABLE "folded" AS',
            'CREATE OR REPLACE TEMP TABLE "grid" AS', 'DROP TABLE IF EXISTS "folded"',
            'CREATE OR REPLACE TEMP VIEW "lookup" AS', 'CREATE OR REPLACE TEMP TABLE "report" AS',
            'DROP TABLE IF EXISTS "intervals"', 'DROP TABLE IF EXISTS "grid"', 'DROP VIEW IF EXISTS "lookup"',
        ]
        assert tables(con) == {"report"}
        assert con.execute("SELECT * FROM report").fetchall() == [(20, 4)]
        # models named, and tables read by a view named, are kept; without release nothing is dropped
        con = duckdb.connect()
        sql.build(con, ["report", "folded", "lookup"], release=True)
        assert tables(con) == {"intervals", "folded", "report"}
        assert con.execute("SELECT * FROM lookup").fetchall() == [(4,)]
        con = duckdb.connect()
        sql.build(con, ["report"])
        assert tables(con) == {"intervals", "folded", "grid", "report"}
    finally:
        sql.load_query.cache_clear()
