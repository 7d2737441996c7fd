"""The cohort SQL on Spark (local mode) and on DuckDB over the same extracts: identical outputs.

Every output table of impact.cohorts.TABLES is compared row for row (columns, dtypes, values):
on a synthetic extract with the default options and with every cohort variant switched, on the
hand-made extract of tests/sql (window boundaries, dual registration, repeated returns, summer
census), and for the post-16 panel.
"""
from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

import impact.cohorts as duck
from impact.cohorts import TABLES

from ..sql import world
from .compare import assert_same_rows

pytestmark = pytest.mark.spark

SPARK_TABLES = [t for t in TABLES if t != "post16_panel"]
VARIANT = dict(years=range(2019, 2024), lookback_years=4, treated="ever4_cwsw", exclude_cla=True, current_only=False, highest_level="CPP",
               comparison="not_cwsw", include_nfa=True, include_not_in_need=True, definition="plan",
               exclude_short_breaks=False, baseline_year=2020, keep_excluded=True)


def _duckdb_tables(data, names, **options):
    functions = {"cohort": duck.build_cohort, "attendance_panel": duck.attendance_panel, "ks4_cohort": duck.ks4_cohort,
                 "covariates": duck.covariates, "attrition": duck.attrition}
    out = {}
    for name in names:
        opts = options if name != "cohort" else {k: v for k, v in options.items() if k not in ("baseline_year", "keep_excluded")}
        out[name] = functions[name](data, **opts)
    return out


def _check(data_duck, data_spark, spark, names, **options):
    from impact.spark import cohort_tables

    on_spark = cohort_tables(data_spark, tables=names, spark=spark, **options)
    on_duck = _duckdb_tables(data_duck, names, **options)
    for name in names:
        assert_same_rows(on_duck[name], on_spark[name], name)


def test_synthetic_default_options(spark, synthetic_extract):
    _check(synthetic_extract, synthetic_extract, spark, SPARK_TABLES, years=range(2019, 2024))


def test_synthetic_every_variant(spark, synthetic_extract):
    _check(synthetic_extract, synthetic_extract, spark, ["cohort", "attrition", "ks4_cohort"], **VARIANT)


def test_post16_panel(spark, synthetic_extract):
    from impact.spark import post16_panel

    assert_same_rows(duck.post16_panel(synthetic_extract, years=range(2019, 2024)),
                     post16_panel(synthetic_extract, years=range(2019, 2024), spark=spark), "post16_panel")


def _world_directory(path: Path) -> Path:
    """tests/sql's hand-made extract written as one parquet file per table."""
    con = world.world()
    for name in ("spring_census", "summer_census", "cin", "cla_episodes"):
        pq.write_table(con.table(name).to_arrow_table(), path / f"{name}.parquet")
    con.close()
    return path


def test_hand_made_extract(spark, tmp_path):
    directory = _world_directory(tmp_path)
    _check(directory, directory, spark, ["cohort", "attrition"], years=[2022, 2023, 2024])
