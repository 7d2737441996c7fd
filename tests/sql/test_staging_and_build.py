"""Staging de-duplication edge cases and how models are created (tables, views, connection settings)."""
from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from impact import cohorts, sql

from .extracts import census, cin, cla, connect, table


def test_cla_episode_takes_the_latest_return_even_where_it_is_null():
    # K1: the 2022 return records V3 (short break), the 2023 return leaves the legal status blank:
    # the latest return wins, so the episode is not a short break. Within 2023 one row is closed
    # and one open: the open end counts as the latest. K2: no PMR on the latest return.
    con = connect(cla_episodes=[
        cla("A", "K1", 2022, "2021-05-01", "2021-06-01", CLA_LS="V3"),
        cla("A", "K1", 2023, "2021-05-01", "2022-01-01", CLA_LS=None),
        cla("A", "K1", 2023, "2021-05-01", None, CLA_LS=None),
        cla("B", "K2", 2022, "2021-02-01"),
        cla(None, "K2", 2023, "2021-02-01", "2022-07-01"),
    ])
    sql.build(con, ["stg_cla"])
    rows = con.sql("SELECT child_id, pupil_id, end_date, legal_status, short_break, last_collection_year, returns_count "
                   "FROM stg_cla ORDER BY child_id").fetchall()
    assert rows == [("K1", "A", None, None, 0, 2023, 3), ("K2", "B", dt.date(2022, 7, 1), "C2", 0, 2023, 2)]


def test_cin_interval_keeps_latest_values_and_counts_returns():
    # C1: two returns; the latest (2023) has NFA 0 and RC8 closure; the first collection year is 2021.
    # Within 2023 an open row and a closed row of the same episode: open (null end) wins.
    con = connect(cin=[
        cin("A", "C1", 2021, "2020-09-01", CIN_ReferralNFA=1),
        cin("A", "C1", 2023, "2020-09-01", "2022-12-01", CIN_ReasonForClosure="RC8"),
        cin("A", "C1", 2023, "2020-09-01"),
        cin("B", "C2", 2022, "2021-09-01", "2022-01-01", CIN_ReasonForClosure="RC8"),
    ])
    sql.build(con, ["stg_cin"])
    rows = con.sql("SELECT child_id, end_date, referral_nfa, not_in_need, first_collection_year, last_collection_year, "
                   "returns_count FROM stg_cin WHERE kind = 'cin' ORDER BY child_id").fetchall()
    assert rows == [("C1", None, 0, 0, 2021, 2023, 3), ("C2", dt.date(2022, 1, 1), 0, 1, 2022, 2022, 1)]


def test_views_and_tables_follow_the_header_and_can_swap():
    con = connect()
    assert sql.load_query("stg_census").materialise == "view"
    assert sql.load_query("flag_grid").materialise == "table"
    assert sql.load_query("flag_grid").yearly
    assert {sql.load_query(m).materialise for m in ("flag_pupil_census", "cohort_pupil_year", "cohort_pupil_census")} == {"inline"}
    con.execute('CREATE TEMP TABLE "stg_census_dates" AS SELECT 1 AS stale')  # a table where a table goes
    con.execute('CREATE TEMP TABLE "stg_cin" AS SELECT 1 AS stale')
    con.execute('CREATE TEMP VIEW "stg_census" AS SELECT 1 AS stale')
    sql.build(con, ["stg_cin", "stg_census", "stg_census_dates"])
    kinds = dict(con.sql("SELECT table_name, table_type FROM information_schema.tables "
                         "WHERE table_name IN ('stg_cin', 'stg_census', 'stg_census_dates')").fetchall())
    assert kinds == {"stg_cin": "LOCAL TEMPORARY", "stg_census": "VIEW", "stg_census_dates": "LOCAL TEMPORARY"}
    assert "stale" not in con.sql("SELECT * FROM stg_census").columns


def test_a_view_cannot_bind_parameters(tmp_path, monkeypatch):
    (tmp_path / "stg_bad.sql").write_text(
        "-- name: stg_bad\n-- grain: x\n-- params: $a\n-- depends: none\n-- materialise: view\nSELECT $a\n")
    (tmp_path / "stg_odd.sql").write_text(
        "-- name: stg_odd\n-- grain: x\n-- params: none\n-- depends: none\n-- materialise: index\nSELECT 1\n")
    (tmp_path / "stg_squeezed.sql").write_text(
        "-- name: stg_squeezed\n-- grain: x\n-- params: none\n-- depends: none\n-- materialise: view\n-- compress: yes\nSELECT 1\n")
    monkeypatch.setattr(sql, "query_dirs", lambda: (tmp_path,))
    sql.load_query.cache_clear()
    try:
        with pytest.raises(sql.QueryDefinitionError, match="compress must be yes or no, and yes only for a table; got 'yes'"):
            sql.load_query("stg_squeezed")
        with pytest.raises(sql.QueryDefinitionError, match=r"a view cannot bind parameters \(a\)"):
            sql.load_query("stg_bad")
        with pytest.raises(sql.QueryDefinitionError, match="materialise must be one of table, view, inline; got 'index'"):
            sql.load_query("stg_odd")
    finally:
        sql.load_query.cache_clear()


def test_connection_settings_spill_to_the_given_folder(tmp_path):
    con = cohorts.connect(tmp_path / "spill", memory_limit="1GB")
    settings = dict(con.sql("SELECT name, value FROM duckdb_settings() WHERE name IN "
                            "('threads', 'memory_limit', 'temp_directory', 'preserve_insertion_order')").fetchall())
    assert settings["threads"] == str(cohorts.DUCKDB_SETTINGS["threads"])
    assert settings["temp_directory"] == str(tmp_path / "spill")
    assert settings["preserve_insertion_order"] == "false"
    assert settings["memory_limit"] == "953.6 MiB"  # 1 GB = 10^9 bytes, shown in binary units
    con.close()


def test_every_connection_setting_takes_effect(tmp_path):
    # DuckDB 2.0 ignores some settings given at connection time without a word
    # (disabled_compression_methods did nothing from session 3 to 5): each must read back as SET gives it.
    con = cohorts.connect(tmp_path / "spill")
    reference = duckdb.connect()
    for name, value in cohorts.DUCKDB_SETTINGS.items():
        reference.execute(f"SET {name} = $value", {"value": value})
        expected = reference.sql(f"SELECT current_setting('{name}')").fetchall()
        assert con.sql(f"SELECT current_setting('{name}')").fetchall() == expected, name
    con.close()



def test_connect_stores_models_compressed_in_its_own_file_and_replaces_stale_ones(tmp_path):
    con = cohorts.connect(tmp_path / "spill")
    con.register("spring_census", table("spring_census", [census("A", 2023, EVERFSM_6=1), census("B", 2023)]))
    cohorts.register_missing_tables(con)
    con.execute('CREATE TEMP TABLE "flag_grid" AS SELECT 1 AS stale')  # would shadow a stored table
    frame = cohorts.attendance_panel(con, years=[2023])
    assert frame["pupil_id"].to_list() == ["A"]  # B: not FSM, not CWSW -> excluded
    stored = con.sql("SELECT database_name, temporary FROM duckdb_tables() WHERE table_name = 'flag_grid'").fetchall()
    assert stored == [("impact-models", False)]
    assert (tmp_path / "spill" / cohorts.MODELS_FILE).is_file()
    con.close()
    # any other connection gets TEMP tables: nothing is written to the caller's database
    other = connect(spring_census=[census("A", 2023, EVERFSM_6=1)])
    cohorts.attendance_panel(other, years=[2023])
    assert other.sql("SELECT temporary FROM duckdb_tables() WHERE table_name = 'flag_grid'").fetchall() == [(True,)]


def _two_year_extract(label) -> dict:
    """Census, absence and CIN rows over 2022-2024 with AcademicYear labels written by `label`."""
    rows = [census(p, y, FSMeligible=int(p == "B" and y == 2022)) for p in ("A", "B", "C") for y in (2022, 2023, 2024)]
    rows += [census("C", 2023, EnrolStatus="S", LAESTAB=2012002)]  # dual registration: C row kept
    absence = [{"PupilMatchingRefAnonymous": p, "LAESTAB": 2012001, "SessionsPossible_Autumn": 100 + y - 2022,
                "OverallAbsence_Autumn": 3} for p in ("A", "B") for y in (2023, 2024)]
    for r, y in zip(absence, (2023, 2024) * 2):
        r["AcademicYear"] = label(y)
    for r in rows:
        r["AcademicYear"] = label(int(r["AcademicYear"][-4:]))
    return {"spring_census": rows, "absence": absence, "cin": [cin("A", "K1", 2023, "2022-10-01")]}


def test_year_at_a_time_build_equals_one_pass_and_reads_short_labels():
    # The stored grid is built one census year per pass (filtered on the label's opening text);
    # 'YYYY/YY' labels are read as 'YYYY/YYYY' ones. One pass over the three years gives the same rows.
    long_labels = _two_year_extract(lambda y: f"{y - 1}/{y}")
    short_labels = _two_year_extract(lambda y: f"{y - 1}/{str(y)[2:]}")
    options = {"years": [2022, 2023, 2024], "comparison": "not_cwsw"}
    yearly = cohorts.attendance_panel(connect(**long_labels), **options).sort("pupil_id", "academic_year")
    assert yearly.height == 9 and yearly["ever6_cwsw"].sum() == 2  # A at 2023 and 2024
    assert yearly.filter(pl.col("pupil_id") == "A")["sessions_possible"].to_list() == [None, 101, 102]
    assert cohorts.attendance_panel(connect(**short_labels), **options).sort("pupil_id", "academic_year").equals(yearly)
    con = connect(**long_labels)
    opts = cohorts.CohortOptions.checked("test", **options)
    deps = sql.prerequisites(["out_attendance_panel"])
    sql.build(con, deps, opts.sql_params(deps))  # one pass: no `passes`
    one_pass = opts.label(sql.run_query(con, "out_attendance_panel", opts.sql_params(["out_attendance_panel"], own=True)))
    assert one_pass.sort("pupil_id", "academic_year").equals(yearly)


def test_baseline_census_equals_stg_census_for_its_year():
    # stg_census_baseline orders only the pupils with several enrolments; the rows are stg_census's.
    rows = [census(p, y) for p in ("A", "B") for y in (2022, 2023, 2024)]
    rows += [census("B", 2023, EnrolStatus="S", LA=202, LAESTAB=2020001)]  # dual: C kept
    rows += [census("C", 2023, EnrolStatus="S", LA=201, LAESTAB=2013001),  # S, M, M -> lowest M
             census("C", 2023, EnrolStatus="M", LA=202, LAESTAB=2024002),
             census("C", 2023, EnrolStatus="M", LA=202, LAESTAB=2024001)]
    rows += [census("D", 2023, EnrolStatus="X", LAESTAB=2010001), census("D", 2023, EnrolStatus="S", LAESTAB=2019001)]
    rows += [census("E", 2022, EnrolStatus="S"), census("E", 2024, EnrolStatus="M")]  # several years, one a year
    rows += [census(None, 2023, LAESTAB=2011001), census(None, 2023, EnrolStatus="M", LAESTAB=2011002)]  # no PMR
    con = connect(spring_census=rows)
    sql.build(con, ["stg_census_enrolment", "stg_census"])
    expected = con.sql("SELECT * FROM stg_census WHERE academic_year = 2023").pl()
    got = sql.run_query(con, "stg_census_baseline", {"baseline_year": 2023})
    assert got.columns == expected.columns
    key = ["pupil_id"]
    assert got.sort(key, nulls_last=True).equals(expected.sort(key, nulls_last=True))
    main = {r["pupil_id"]: (r["school_id"], r["registrations"]) for r in got.iter_rows(named=True)}
    assert main == {"A": (2012001, 1), "B": (2012001, 2), "C": (2024001, 3), "D": (2019001, 2), None: (2011001, 2)}
