"""The extract reader: discovery, renaming to contract names, typed NULLs, stacking, errors."""
from __future__ import annotations

import dataclasses
import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from impact.data import (
    CONTRACTS,
    TableSource,
    check_mapping,
    discover,
    load_mapping,
    register_extracts,
    unknown_files,
)
from impact.errors import DataError, ParameterError

from .conftest import good_tables


def _view(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, str]:
    rel = con.table(name)
    return dict(zip(rel.columns, (str(t) for t in rel.types)))


def test_discover_finds_each_table_sorted_and_reports_unknown_files(write_extract):
    tables = good_tables()
    tables["notes.parquet"] = {"x": [1]}
    root = write_extract(tables)
    found = discover(root)
    assert set(found) == set(CONTRACTS)
    assert [p.name for p in found["spring_census"]] == ["spring_census_2020.parquet", "spring_census_2021.parquet"]
    assert [p.name for p in found["cin"]] == ["cin.parquet"]
    assert found["care_leavers"] == [] and found["autumn_census"] == []
    assert [p.name for p in unknown_files(root, found)] == ["notes.parquet"]


def test_discover_first_matching_pattern_wins(write_extract):
    tables = good_tables()
    tables["cla_other.parquet"] = tables["cla_episodes.parquet"]
    found = discover(write_extract(tables))
    # `cla_episodes*.parquet` matches, so the fallback `cla*.parquet` is not tried.
    assert [p.name for p in found["cla_episodes"]] == ["cla_episodes.parquet"]


def test_missing_directory_is_a_data_error_naming_it(tmp_path):
    missing = tmp_path / "no_such_extracts"
    with pytest.raises(DataError, match="no_such_extracts.*does not exist"):
        discover(missing)
    with pytest.raises(DataError, match="no_such_extracts"):
        register_extracts(duckdb.connect(), missing)


def test_views_have_every_contract_column_in_order_with_contract_types(extract_dir):
    con = duckdb.connect()
    sources = register_extracts(con, extract_dir)
    assert set(sources) == {"spring_census", "absence", "exclusions", "ks2", "ks4", "cin",
                            "cla_episodes", "la_lookup", "pp_plus_pilot"}
    for name in sources:
        types = _view(con, name)
        assert list(types) == [c.name for c in CONTRACTS[name].columns]
    census = _view(con, "spring_census")
    # present in the files
    assert census["LA"] == "BIGINT" and census["CensusDate"] == "DATE" and census["Gender"] == "VARCHAR"
    # absent optional columns are typed NULLs, so SQL can reference them
    assert census["URN"] == "BIGINT" and census["IDACIScore_15"] == "DOUBLE"
    assert census["EVERFSM_6_P"] == "TINYINT" and census["LA_9Code"] == "VARCHAR"
    assert con.sql("SELECT count(*), count(URN), count(IDACIScore_15) FROM spring_census").fetchall() == [(6, 0, 0)]
    assert _view(con, "cin")["CIN_CINPlanStartDate"] == "DATE"


def test_suffix_is_stripped_and_academic_year_derived(extract_dir):
    con = duckdb.connect()
    src = register_extracts(con, extract_dir, tables=["spring_census"])["spring_census"]
    assert src.years == (2020, 2021)
    assert src.renamed["FSMeligible_SPR21"] == "FSMeligible"
    assert src.renamed["PupilMatchingRefAnonymous_SPR20"] == "PupilMatchingRefAnonymous"
    assert src.row_count == 6 and src.extra_columns == () and src.missing_required == ()
    assert "AcademicYear" in src.columns_found
    rows = con.sql(
        "SELECT AcademicYear, count(*), min(year(CensusDate)) FROM spring_census GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert rows == [("2019/2020", 3, 2020), ("2020/2021", 3, 2021)]


def test_existing_year_column_is_kept_not_derived(write_extract):
    tables = good_tables()
    tables["spring_census_2021.parquet"]["AcademicYear_SPR21"] = ["2020/21"] * 3
    con = duckdb.connect()
    register_extracts(con, write_extract(tables), tables="spring_census")
    assert con.sql("SELECT DISTINCT AcademicYear FROM spring_census ORDER BY 1").fetchall() == [("2019/2020",), ("2020/21",)]


def test_names_match_case_insensitively(write_extract):
    tables = good_tables()
    tables["spring_census_2021.parquet"] = {k.lower(): v for k, v in tables["spring_census_2021.parquet"].items()}
    tables["la_lookup.parquet"] = {k.upper(): v for k, v in tables["la_lookup.parquet"].items()}
    con = duckdb.connect()
    src = register_extracts(con, write_extract(tables), tables=["spring_census", "la_lookup"])
    assert src["spring_census"].renamed["fsmeligible_spr21"] == "FSMeligible"
    assert src["spring_census"].years == (2020, 2021)
    assert src["la_lookup"].renamed["LA_NAME"] == "LA_Name"
    assert con.sql("SELECT sum(FSMeligible), count(DISTINCT AcademicYear) FROM spring_census").fetchall() == [(4, 2)]
    assert con.sql("SELECT LA_Name FROM la_lookup ORDER BY LA").fetchall() == [("City of London",), ("Solihull",)]


def test_user_mapping_renames_before_matching(write_extract):
    tables = good_tables()
    census = tables["spring_census_2021.parquet"]
    census["Sex_SPR21"] = census.pop("Gender_SPR21")
    tables["la_lookup.parquet"]["LocalAuthorityName"] = tables["la_lookup.parquet"].pop("LA_Name")
    mapping = {"spring_census": {"sex": "Gender", "NotThere": "URN"}, "la_lookup": {"LocalAuthorityName": "LA_Name"}}
    con = duckdb.connect()
    src = register_extracts(con, write_extract(tables), mapping=mapping)
    assert src["spring_census"].renamed["Sex_SPR21"] == "Gender"
    assert src["spring_census"].missing_required == ()
    assert src["spring_census"].unused_mapping == ("NotThere",)
    assert con.sql("SELECT count(Gender) FROM spring_census").fetchall() == [(6,)]
    assert con.sql("SELECT count(LA_Name) FROM la_lookup").fetchall() == [(2,)]


def test_two_columns_mapping_to_one_contract_column_is_an_error(write_extract):
    tables = good_tables()
    tables["spring_census_2021.parquet"]["fsmeligible"] = [0, 0, 0]
    with pytest.raises(DataError, match="spring_census_2021.parquet.*'FSMeligible_SPR21' and 'fsmeligible'.*spring_census.FSMeligible"):
        register_extracts(duckdb.connect(), write_extract(tables))


def test_mapping_onto_a_present_column_is_an_error(write_extract):
    tables = good_tables()
    tables["la_lookup.parquet"]["Name2"] = ["a", "b"]
    with pytest.raises(DataError, match="'LA_Name' and 'Name2' both map to la_lookup.LA_Name"):
        register_extracts(duckdb.connect(), write_extract(tables), mapping={"la_lookup": {"Name2": "LA_Name"}})


def test_unreadable_file_is_a_data_error_naming_it(write_extract):
    root = write_extract(good_tables())
    (root / "ks2.parquet").write_text("PupilMatchingRef,score\nA,1\n")
    with pytest.raises(DataError, match=r"cannot read '.*ks2\.parquet' as parquet"):
        register_extracts(duckdb.connect(), root)


def test_extra_columns_are_dropped_and_listed(write_extract):
    tables = good_tables()
    tables["ks4.parquet"]["KS4_NOTES"] = ["free text"]
    tables["ks4.parquet"]['we"ird.name'] = [1]
    con = duckdb.connect()
    src = register_extracts(con, write_extract(tables), tables=["ks4"])["ks4"]
    assert src.extra_columns == ("KS4_NOTES", 'we"ird.name')
    assert "KS4_NOTES" not in con.table("ks4").columns


def test_missing_required_column_is_null_filled_and_recorded(write_extract):
    tables = good_tables()
    del tables["ks4.parquet"]["KS4_ATT8"]
    del tables["spring_census_2020.parquet"]["Gender_SPR20"]
    con = duckdb.connect()
    src = register_extracts(con, write_extract(tables))
    assert src["ks4"].missing_required == ("KS4_ATT8",)
    assert _view(con, "ks4")["KS4_ATT8"] == "DOUBLE"
    assert src["spring_census"].missing_required == ("Gender",)
    assert [p.name for p in src["spring_census"].files_without("Gender")] == ["spring_census_2020.parquet"]
    assert con.sql("SELECT AcademicYear, count(Gender) FROM spring_census GROUP BY 1 ORDER BY 1").fetchall() == [
        ("2019/2020", 0), ("2020/2021", 3)]


def test_per_year_files_are_stacked_by_name(write_extract):
    tables = good_tables()
    older = tables["spring_census_2020.parquet"]
    tables["spring_census_2020.parquet"] = dict(reversed(list(older.items())))  # other column order
    tables["spring_census_2021.parquet"]["URN_SPR21"] = [100001, 100001, 100002]  # only in 2021
    con = duckdb.connect()
    register_extracts(con, write_extract(tables), tables=["spring_census"])
    rows = con.sql(
        "SELECT AcademicYear, PupilMatchingRefAnonymous, LA, count(URN) OVER (PARTITION BY AcademicYear) "
        "FROM spring_census ORDER BY 1, 2"
    ).fetchall()
    assert rows[0] == ("2019/2020", "P001", 201, 0)
    assert rows[3] == ("2020/2021", "P001", 201, 3)


def test_several_year_suffixes_in_one_file_without_year_column_is_an_error(write_extract):
    tables = good_tables()
    tables["spring_census_2021.parquet"]["OnRoll_SPR20"] = [1, 1, 1]
    with pytest.raises(DataError, match="spring_census_2021.parquet.*several years \\(2020, 2021\\)"):
        register_extracts(duckdb.connect(), write_extract(tables))


def test_incompatible_types_across_files_name_the_column(write_extract):
    tables = good_tables()
    tables["spring_census_2021.parquet"]["CensusDate_SPR21"] = [True, False, True]
    with pytest.raises(DataError, match="CensusDate is DATE in spring_census_2020.parquet, BOOLEAN in spring_census_2021.parquet"):
        register_extracts(duckdb.connect(), write_extract(tables))


def test_paths_and_names_with_quotes_are_safe(tmp_path, write_extract):
    from .conftest import write_tables

    root = write_tables(tmp_path / "it's \"odd\" [1]", good_tables())
    con = duckdb.connect()
    assert set(register_extracts(con, root)) >= {"spring_census", "cin"}
    assert con.sql("SELECT count(*) FROM cin").fetchall() == [(3,)]


def test_registration_is_lazy(tmp_path):
    """The view reads the file when queried, not when registered; TableSource holds metadata only."""
    from .conftest import write_tables

    n = 200_000
    big = {
        "KS2_PupilMatchingRefAnonymous": pa.array([f"P{i}" for i in range(n)]),
        "KS2_ACADYR": pa.array(["2018/2019"] * n),
        "KS2_READSCORE": pa.array([100] * n),
        "KS2_MATSCORE": pa.array([100] * n),
        "KS2_READEXP": pa.array([1] * n),
        "KS2_MATEXP": pa.array([0] * n),
    }
    root = write_tables(tmp_path / "big", {"ks2.parquet": big})
    con = duckdb.connect()
    src = register_extracts(con, root)["ks2"]
    assert src.row_count == n
    for f in dataclasses.fields(TableSource):
        value = getattr(src, f.name)
        assert isinstance(value, (str, int, tuple, dict)), f.name
        flat = json.dumps(value, default=str)
        assert "P199999" not in flat and len(flat) < 5_000
    # Replace the file after registration: the view sees the new content, so nothing was cached.
    pq.write_table(pa.table({k: v.slice(0, 10) for k, v in big.items()}), root / "ks2.parquet")
    assert con.sql("SELECT count(*), sum(KS2_MATEXP) FROM ks2").fetchall() == [(10, 0)]


def test_tables_argument_restricts_and_is_checked(extract_dir):
    con = duckdb.connect()
    assert list(register_extracts(con, extract_dir, tables=["cin", "ks4"])) == ["cin", "ks4"]
    with pytest.raises(ParameterError, match="'tables' parameter of register_extracts.*\\['cinn'\\]"):
        register_extracts(con, extract_dir, tables=["cinn"])


def test_check_mapping_names_the_bad_entry():
    assert check_mapping(None) == {}
    with pytest.raises(ParameterError, match="unknown table 'census'"):
        check_mapping({"census": {"a": "b"}})
    with pytest.raises(ParameterError, match="cin.ChildID: 'ChildID' is not a column of cin"):
        check_mapping({"cin": {"ChildID": "ChildID"}})
    with pytest.raises(ParameterError, match="entry 'cin' must map"):
        check_mapping({"cin": ["CIN_LA"]})
    with pytest.raises(ParameterError, match="'Sex' and 'SEX' are the same column"):
        check_mapping({"spring_census": {"Sex": "Gender", "SEX": "Gender"}})


def test_load_mapping_reads_yaml_and_json(tmp_path):
    y = tmp_path / "map.yaml"
    y.write_text("spring_census:\n  Sex: Gender\ncin:\n  ChildID: CIN_LAchildID_Anon\n")
    j = tmp_path / "map.json"
    j.write_text(json.dumps({"spring_census": {"Sex": "Gender"}}))
    assert load_mapping(y) == {"spring_census": {"Sex": "Gender"}, "cin": {"ChildID": "CIN_LAchildID_Anon"}}
    assert load_mapping(j) == {"spring_census": {"Sex": "Gender"}}


def test_load_mapping_errors_name_the_file_and_key(tmp_path):
    with pytest.raises(ParameterError, match="cannot read the column mapping file '.*nope.yaml'"):
        load_mapping(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("cin:\n  a: [b\n")
    with pytest.raises(ParameterError, match="'.*bad.yaml' is not valid YAML at line"):
        load_mapping(bad)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"cin": }')
    with pytest.raises(ParameterError, match="'.*bad.json' is not valid JSON at line 1"):
        load_mapping(bad_json)
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text("cin:\n  ChildID: child_id\n")
    with pytest.raises(ParameterError, match="wrong.yaml: cin.ChildID: 'child_id' is not a column of cin"):
        load_mapping(wrong)

