"""The Spark engine's arguments and registration: one-line errors, and views like DuckDB's."""
from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from impact.data.sources import register_extracts as duck_register
from impact.errors import ImpactError, ParameterError

pytest.importorskip("pyspark")
pytest.importorskip("sqlglot")

import impact.spark as sp  # noqa: E402


def test_missing_pyspark_is_one_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(ImpactError, match=r"^engine 'spark' needs pyspark: pip install 'impact\[spark\]'$"):
        sp.attendance_panel("/nowhere", years=2022)


def test_bad_data_argument_names_it():
    with pytest.raises(ParameterError, match="The 'data' parameter of attendance_panel must be an extract directory"):
        sp.attendance_panel("/nowhere", years=2022)


def test_bad_option_is_refused_before_spark_starts(tmp_path):
    with pytest.raises(ParameterError, match="The 'comparison' parameter of covariates"):
        sp.covariates(tmp_path, years=2022, comparison="everyone")


def test_bad_table_name_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="The 'tables' parameter of cohort_tables"):
        sp.cohort_tables(tmp_path, tables=["panel"], years=2022)


def test_bad_catalog_mapping_names_the_entry():
    with pytest.raises(ParameterError, match=r"'spring_cenus': 'npd.spring'"):
        sp.register_extracts(None, {"spring_cenus": "npd.spring"})


def test_bad_session_argument(tmp_path):
    with pytest.raises(ParameterError, match="The 'spark' parameter of ks4_cohort must be a SparkSession"):
        sp.ks4_cohort(tmp_path, years=2022, spark="local[2]")


def _raw_extract(directory: Path) -> Path:
    """Spring census files as real extracts ship them: year-suffixed names, a column to map, one file
    without EVERFSM_6 and with an extra column, and one timestamp census date."""
    for year, extra in ((22, False), (23, True)):
        columns = {
            f"PupilMatchingRefAnonymous_SPR{year}": pa.array(["A", "B"]),
            f"la_spr{year}": pa.array([201, 202], pa.int32()),
            f"LAESTAB_SPR{year}": pa.array([2011001, 2021001], pa.int64()),
            f"ENROL_SPR{year}": pa.array(["C", "M"]),
            f"FSMeligible_SPR{year}": pa.array([1, 0], pa.int8()),
            f"CensusDate_SPR{year}": pa.array([None, None], pa.timestamp("us")),
        }
        if extra:
            columns[f"Postcode_SPR{year}"] = pa.array(["X", "Y"])
        else:
            columns[f"EVERFSM_6_SPR{year}"] = pa.array([1, 0], pa.int8())
        pq.write_table(pa.table(columns), directory / f"spring_census_20{year}.parquet")
    return directory


@pytest.mark.spark
def test_local_workers_run_this_interpreter(spark):
    """Workers import impact's dependencies from this interpreter's environment, activated or not."""
    assert spark.sparkContext.pythonExec == sys.executable


@pytest.mark.spark
def test_registration_matches_duckdb(spark, tmp_path):
    directory = _raw_extract(tmp_path)
    mapping = {"spring_census": {"ENROL": "EnrolStatus"}}
    con = duckdb.connect()
    on_duck = duck_register(con, directory, mapping=mapping)["spring_census"]
    on_spark = sp.register_extracts(spark, directory, mapping=mapping)["spring_census"]
    assert on_spark == on_duck
    duck_rows = con.table("spring_census").to_arrow_table()
    spark_rows = spark.table("spring_census").toArrow()
    assert spark_rows.column_names == duck_rows.column_names
    key = [("PupilMatchingRefAnonymous", "ascending"), ("AcademicYear", "ascending")]
    assert spark_rows.sort_by(key).to_pylist() == duck_rows.sort_by(key).to_pylist()


@pytest.mark.spark
def test_catalog_tables_are_registered_like_files(spark, tmp_path):
    directory = _raw_extract(tmp_path)
    for year in (22, 23):
        spark.read.parquet(str(directory / f"spring_census_20{year}.parquet")).createOrReplaceTempView(f"raw_spring_{year}")
    found = sp.register_extracts(spark, {"spring_census": ["raw_spring_22", "raw_spring_23"]},
                                 mapping={"spring_census": {"ENROL": "EnrolStatus"}})["spring_census"]
    assert found.row_count == 4 and found.years == (2022, 2023)
    assert found.renamed["ENROL_SPR22"] == "EnrolStatus"
    rows = spark.table("spring_census").select("AcademicYear", "EnrolStatus").toArrow().to_pylist()
    assert sorted((r["AcademicYear"], r["EnrolStatus"]) for r in rows) == [
        ("2021/2022", "C"), ("2021/2022", "M"), ("2022/2023", "C"), ("2022/2023", "M")]


@pytest.mark.spark
def test_views_are_dropped_after_an_entry_point(spark, tmp_path):
    directory = _raw_extract(tmp_path)
    frame = sp.post16_panel(directory, years=[2023], spark=spark)
    assert frame.height == 0 and "in_pilot" in frame.columns
    for name in ("stg_care_leavers", "spring_census", "care_leavers"):
        assert not spark.catalog.tableExists(name), name
