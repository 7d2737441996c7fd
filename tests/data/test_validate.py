"""The extract validator: one hand-made bad extract per check, counts exact, no row values."""
from __future__ import annotations

import json
import math
from datetime import date, datetime

import pyarrow as pa
import pytest

from impact.data import Problem, ValidationReport, check_extracts
from impact.errors import DataError, ParameterError

from .conftest import Tables, good_tables


@pytest.fixture
def check(write_extract):
    """Write a variant of the good extract and check it."""
    def run(extract: Tables, **kwargs) -> ValidationReport:
        return check_extracts(write_extract(extract), **kwargs)
    return run


def only(report: ValidationReport, rule: str) -> Problem:
    """The single problem of a rule, checking that its line names table and column."""
    found = [p for p in report.problems if p.rule == rule]
    assert len(found) == 1, report.lines()
    p = found[0]
    where = f"{p.table}.{p.column}" if p.column else p.table
    assert p.line().split(None, 1)[1].startswith(f"{where}: ")
    return p


def test_good_extract_passes_without_problems(extract_dir):
    report = check_extracts(extract_dir)
    assert report.ok and report.problems == ()
    assert set(report.sources) == {"spring_census", "absence", "exclusions", "ks2", "ks4", "cin",
                                   "cla_episodes", "la_lookup", "pp_plus_pilot"}
    # optional tables that are absent are listed as information, not problems
    assert any(line.startswith("info") and "care_leavers: optional table not found" in line for line in report.lines())
    assert report.lines()[-1].startswith("OK: 0 error(s), 0 warning(s) in 9 table(s)")
    d = report.to_dict()
    assert d["ok"] is True and d["errors"] == 0 and d["tables"]["spring_census"]["years"] == [2020, 2021]
    json.dumps(d)


def test_missing_required_table(check):
    tables = good_tables()
    del tables["ks4.parquet"]
    report = check(tables)
    p = only(report, "missing_table")
    assert (p.severity, p.table, p.column) == ("error", "ks4", None)
    assert "ks4*.parquet" in p.message and not report.ok


def test_missing_required_column(check):
    tables = good_tables()
    del tables["ks4.parquet"]["KS4_ATT8"]
    p = only(check(tables), "missing_column")
    assert (p.severity, p.table, p.column) == ("error", "ks4", "KS4_ATT8")


def test_required_column_missing_from_one_year_names_the_file(check):
    tables = good_tables()
    del tables["spring_census_2020.parquet"]["Gender_SPR20"]
    p = only(check(tables), "missing_column")
    assert (p.table, p.column) == ("spring_census", "Gender")
    assert "'spring_census_2020.parquet' (1 of 2 files)" in p.message


def test_missing_optional_column_is_no_problem(check):
    tables = good_tables()
    del tables["spring_census_2021.parquet"]["EVERFSM_6_SPR21"]
    assert check(tables).problems == ()


@pytest.mark.parametrize(
    ("file", "column", "values", "found"),
    [
        ("la_lookup.parquet", "LA", ["201", "334"], "VARCHAR"),
        ("cin.parquet", "CIN_ReferralDate", ["2019-06-01", "2019-06-01", "2020-09-14"], "VARCHAR"),
        ("ks2.parquet", "KS2_READEXP", [1.0, 0.0, 1.0], "DOUBLE"),
        ("ks4.parquet", "KS4_ACADYR", [2021], "BIGINT"),
        ("ks4.parquet", "KS4_ATT8", ["52.5"], "VARCHAR"),
    ],
)
def test_wrong_type(check, file, column, values, found):
    tables = good_tables()
    tables[file][column] = values
    p = only(check(tables), "type")
    assert (p.severity, p.table, p.column) == ("error", file.removesuffix(".parquet"), column)
    kind = {"LA": "int", "CIN_ReferralDate": "date", "KS2_READEXP": "flag", "KS4_ACADYR": "str", "KS4_ATT8": "float"}[column]
    assert f"has type {found} in '{file}'; the contract expects {kind}" in p.message


def test_accepted_types(check):
    """Timestamps for dates, booleans for flags, integers for floats, small ints for ints."""
    tables = good_tables()
    tables["cla_episodes.parquet"]["CLA_DECOM"] = [datetime(2020, 10, 2, 0, 0)]
    tables["ks2.parquet"]["KS2_READEXP"] = [True, False, True]
    tables["ks4.parquet"]["KS4_ATT8"] = [52]
    tables["la_lookup.parquet"]["LA"] = pa.array([201, 334], pa.int16())
    assert check(tables).problems == ()


def test_wrong_type_in_one_year_file_names_it(check):
    tables = good_tables()
    tables["spring_census_2021.parquet"]["LA_SPR21"] = ["201", "201", "334"]
    report = check(tables)
    p = only(report, "type")
    assert (p.table, p.column) == ("spring_census", "LA")
    assert "has type VARCHAR in 'spring_census_2021.parquet'" in p.message


def test_nulls_in_non_nullable_column(check):
    tables = good_tables()
    tables["cin.parquet"]["CIN_LAchildID_Anon"] = [None, "C1", None]
    p = only(check(tables), "null")
    assert (p.severity, p.table, p.column, p.count) == ("error", "cin", "CIN_LAchildID_Anon", 2)
    assert p.message.startswith("2 row(s) are null")


def test_nulls_in_nullable_column_are_fine(check):
    tables = good_tables()
    tables["ks4.parquet"]["KS4_P8SCORE"] = pa.array([None], pa.float64())
    assert check(tables).problems == ()


def test_invalid_codes_str_and_int(check):
    tables = good_tables()
    tables["exclusions.parquet"]["Category"] = ["FIXD", "SUSP"]
    tables["cin.parquet"]["CIN_Gender"] = [7, 2, 3]
    report = check(tables)
    codes = {p.table: p for p in report.problems if p.rule == "code"}
    assert set(codes) == {"exclusions", "cin"}
    assert (codes["exclusions"].column, codes["exclusions"].count) == ("Category", 1)
    assert "allowed list (PERM, FIXD, LNCH)" in codes["exclusions"].message
    assert (codes["cin"].column, codes["cin"].count) == ("CIN_Gender", 2)
    assert "(0, 1, 2, 9)" in codes["cin"].message
    assert len(report.problems) == 2


def test_out_of_range(check):
    tables = good_tables()
    tables["ks2.parquet"]["KS2_READSCORE"] = [79, 121, 130]
    p = only(check(tables), "range")
    assert (p.severity, p.table, p.column, p.count) == ("error", "ks2", "KS2_READSCORE", 3)
    assert "outside the allowed range [80, 120] (1 below, 2 above)" in p.message


def test_nan_is_reported_not_counted_as_out_of_range(check):
    tables = good_tables()
    tables["exclusions.parquet"]["Sessions"] = [math.nan, 500.0]
    report = check(tables)
    assert (only(report, "nan").column, only(report, "nan").count) == ("Sessions", 1)
    assert (only(report, "range").count, "(0 below, 1 above)" in only(report, "range").message) == (1, True)


def test_flags_not_zero_one(check):
    tables = good_tables()
    tables["spring_census_2021.parquet"]["FSMeligible_SPR21"] = [0, 2, -1]
    p = only(check(tables), "flag")
    assert (p.severity, p.table, p.column, p.count) == ("error", "spring_census", "FSMeligible", 2)


def test_duplicate_keys(check):
    tables = good_tables()
    cla = tables["cla_episodes.parquet"]
    for col in cla:  # the same episode three times
        cla[col] = cla[col] * 3
    cin = tables["cin.parquet"]
    for col in cin:  # repeat the first row: two rows share a key
        cin[col] = cin[col] + cin[col][:1]
    report = check(tables)
    dup = {p.table: p for p in report.problems if p.rule == "duplicate_key"}
    assert dup["cla_episodes"].count == 3 and dup["cin"].count == 2
    assert dup["cla_episodes"].column == "CLA_LA+CLA_CHILD_ID_Anon+CLA_DECOM+CLA_ACADYR"
    assert all(p.severity == "error" for p in dup.values()) and len(report.problems) == 2


def test_same_pupil_in_two_census_years_is_not_a_duplicate(extract_dir):
    # P001..P003 appear in both spring censuses; the derived AcademicYear separates them.
    assert check_extracts(extract_dir, tables=["spring_census"]).problems == ()


def test_ordering_dates_and_sessions(check):
    tables = good_tables()
    cin = tables["cin.parquet"]
    cin["CIN_CINClosureDate"] = [None, date(2019, 5, 1), None]  # closure before referral
    cin["CIN_CPPendDate"] = [date(2019, 6, 30), date(2019, 7, 1), None]  # end before start; same day is fine
    tables["absence.parquet"]["OverallAbsence_Spring"] = [6, 121, 131]  # above possible (120, 130)
    tables["cla_episodes.parquet"]["CLA_DEC"] = [date(2020, 10, 1)]  # episode end before start
    report = check(tables)
    order = {(p.table, p.column): p for p in report.problems if p.rule == "order"}
    assert {k: p.count for k, p in order.items()} == {
        ("cin", "CIN_ReferralDate"): 1,
        ("cin", "CIN_CPPstartDate"): 1,
        ("absence", "OverallAbsence_Spring"): 2,
        ("cla_episodes", "CLA_DECOM"): 1,
    }
    assert "CIN_ReferralDate after CIN_CINClosureDate" in order[("cin", "CIN_ReferralDate")].message
    assert "OverallAbsence_Spring above SessionsPossible_Spring" in order[("absence", "OverallAbsence_Spring")].message
    assert len(report.problems) == 4


def test_academic_year_strings(check):
    tables = good_tables()
    ks2 = tables["ks2.parquet"]
    ks2["KS2_ACADYR"] = ["2016-2017", "2015/2017", "2014/15"]  # the last is fine
    tables["cin.parquet"]["CIN_ACADYR"] = ["2019/20", "20/21", "2020/2021 "]
    report = check(tables)
    years = {p.table: p for p in report.problems if p.rule == "academic_year"}
    assert (years["ks2"].column, years["ks2"].count) == ("KS2_ACADYR", 2)
    assert (years["cin"].column, years["cin"].count) == ("CIN_ACADYR", 2)
    assert "'YYYY/YYYY' or 'YYYY/YY'" in years["ks2"].message


def test_century_boundary_short_year(check):
    tables = good_tables()
    tables["ks2.parquet"]["KS2_ACADYR"] = ["1999/00", "1999/2000", "1999/01"]  # only the last is wrong
    report = check(tables, tables=["ks2"])
    assert [(p.rule, p.count) for p in report.problems] == [("academic_year", 1)]


def test_unlinked_share_is_a_warning(check):
    tables = good_tables()
    tables["cin.parquet"]["CIN_PupilMatchingRefAnonymous"] = [None, "P002", "P003"]
    report = check(tables)
    p = only(report, "unlinked")
    assert (p.severity, p.table, p.column, p.count) == ("warning", "cin", "CIN_PupilMatchingRefAnonymous", 1)
    assert p.line() == (
        "warning cin.CIN_PupilMatchingRefAnonymous: 33.3% of rows (n=1) have no pupil matching reference "
        "and cannot be linked"
    )
    assert report.ok


def test_extra_columns_are_a_warning_listing_names(check):
    tables = good_tables()
    tables["ks4.parquet"]["KS4_NOTES"] = ["x"]
    tables["ks4.parquet"]["KS4_URN"] = [100001]
    report = check(tables)
    p = only(report, "extra_columns")
    assert (p.severity, p.table, p.count) == ("warning", "ks4", 2)
    assert "'KS4_NOTES', 'KS4_URN'" in p.message and report.ok


def test_absence_over_420_possible_sessions_is_a_warning(check):
    tables = good_tables()
    tables["absence.parquet"]["SessionsPossible_Autumn"] = [140, 200, 130]  # 200 + 120 + 120 = 440
    tables["absence.parquet"]["SessionsPossible_Summer"] = [140, 120, 170]  # 130 + 130 + 170 = 430
    report = check(tables)
    p = only(report, "sessions_over_limit")
    assert (p.severity, p.table, p.count) == ("warning", "absence", 2)
    assert "more than 420 possible sessions" in p.message and report.ok


def test_unreadable_file_is_an_error_naming_it(check, write_extract):
    root = write_extract(good_tables())
    (root / "cin.parquet").write_bytes(b"not parquet at all")
    report = check_extracts(root)
    p = only(report, "unreadable")
    assert (p.severity, p.table) == ("error", "cin") and "cin.parquet" in p.message
    assert "ks4" in report.sources  # the other tables are still checked


def test_unknown_files_are_listed_as_information(check):
    tables = good_tables()
    tables["scratch.parquet"] = {"a": [1]}
    report = check(tables)
    assert report.ok and report.problems == ()
    assert any("unknown file scratch.parquet" in line for line in report.lines())


def test_mapping_is_applied(check):
    tables = good_tables()
    tables["ks4.parquet"]["Att8"] = tables["ks4.parquet"].pop("KS4_ATT8")
    assert [p.rule for p in check(tables).problems] == ["missing_column", "extra_columns"]
    assert check(tables, mapping={"ks4": {"Att8": "KS4_ATT8"}}).problems == ()


def test_tables_restricts_the_check(check):
    tables = good_tables()
    del tables["ks4.parquet"]
    report = check(tables, tables=["cin", "la_lookup"])
    assert report.ok and set(report.sources) == {"cin", "la_lookup"}
    with pytest.raises(ParameterError, match="'tables' parameter of check_extracts"):
        check(tables, tables=["spring"])


def test_missing_directory_raises(tmp_path):
    with pytest.raises(DataError, match="extract directory '.*nowhere' does not exist"):
        check_extracts(tmp_path / "nowhere")


def test_no_row_value_reaches_any_message(check):
    """Canary values planted in ids, dates and codes appear in no line and not in to_dict()."""
    canary_id, canary_date, canary_code = "CANARY123", date(1999, 12, 31), "CANARYCODE"
    tables = good_tables()
    census = tables["spring_census_2021.parquet"]
    census["PupilMatchingRefAnonymous_SPR21"] = [canary_id, canary_id, "P003"]  # duplicate key
    census["LAESTAB_SPR21"] = [2012001, 2012001, 3344001]
    census["Gender_SPR21"] = [canary_code, "F", "F"]
    cin = tables["cin.parquet"]
    cin["CIN_PupilMatchingRefAnonymous"] = [canary_id, None, "P003"]
    cin["CIN_CINClosureDate"] = [None, canary_date, None]
    cin["CIN_PrimaryNeedCode"] = ["N1", canary_code, "N4"]
    tables["ks2.parquet"]["KS2_ACADYR"] = ["CANARY/YR", "2015/2016", "2014/2015"]
    tables["ks2.parquet"]["KS2_MATSCORE"] = [101, 95, 987654]
    report = check(tables)
    assert {p.rule for p in report.problems} >= {"duplicate_key", "code", "order", "unlinked", "academic_year", "range"}
    text = ("\n".join(report.lines()) + json.dumps(report.to_dict())).replace(str(report.directory), "DIR")
    for canary in (canary_id, "CANARY", canary_date.isoformat(), "1999", "31/12", "987654"):
        assert canary not in text, canary


def test_problem_counts_and_ok_follow_severity(check):
    tables = good_tables()
    tables["cin.parquet"]["CIN_PupilMatchingRefAnonymous"] = [None, "P002", "P003"]
    tables["ks2.parquet"]["KS2_MATSCORE"] = [101, 95, 121]
    report = check(tables)
    assert [p.severity for p in report.errors] == ["error"] and len(report.warnings) == 1
    assert not report.ok
    assert report.lines()[-1].startswith("FAILED: 1 error(s), 1 warning(s)")
    assert report.to_dict()["problems"][0]["rule"] in {"unlinked", "range"}
