"""`engine: spark` end to end: the same spec gives the same released tables as `engine: duckdb`, and
`spark: {collect: statistics}` (estimates from sums computed in Spark) the same as `collect: frame`."""
from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from impact.errors import SpecError
from impact.pipeline import run
from impact.spec import parse_spec

SPEC = {
    "name": "t_engines",
    "data": {"extracts": "unused"},
    "cohort": {"years": [2018, 2023], "exclude_cla": True},
    "panel": "attendance",
    "outcomes": ["overall_absence_rate", "persistent_absence"],
    "estimators": [
        {"did": {"post_from": 2022, "exclude_years": [2020, 2021], "fixed_effects": ["pupil_id", "year"],
                 "cluster": "la"}},
        {"event_study": {"treat_start": 2022, "reference": -3, "exclude_periods": [2020, 2021],
                         "fixed_effects": ["pupil_id", "year"], "cluster": "la"}},
    ],
}
STAMP = "2026-01-01T00:00:00+00:00"
STATISTICS = {**SPEC, "engine": "spark", "spark": {"collect": "statistics"}}
#: Tables of model results, and their columns computed in floating point.
MODEL_TABLES = ("estimates", "event_study", "pretrend_tests")
FLOATS = ("estimate", "std_error", "statistic", "p_value", "ci_low", "ci_high", "truth")


@pytest.fixture(scope="module")
def spark_frame_run(spark, synthetic_extract):
    """The spec on engine spark with the panel collected (the default `spark.collect: frame`)."""
    return run(parse_spec({**SPEC, "engine": "spark"}), data=synthetic_extract, timestamp=STAMP)


@pytest.mark.spark
def test_spark_engine_gives_the_duckdb_results(spark_frame_run, synthetic_extract):
    duck = run(parse_spec({**SPEC, "engine": "duckdb"}), data=synthetic_extract, timestamp=STAMP)
    sp = spark_frame_run
    assert set(duck.tables) == set(sp.tables)
    for name, table in duck.tables.items():
        assert table.height > 0 or name == "attrition", name
        # same rows and values; floats to 1e-10 relative (sums may be taken in another order)
        assert_frame_equal(table, sp.tables[name], check_exact=False, rel_tol=1e-10, abs_tol=1e-12)
    assert sp.manifest["spec"]["engine"] == "spark"


@pytest.mark.spark
def test_collect_statistics_gives_the_collected_frame_results(spark, spark_frame_run, synthetic_extract):
    from impact.sql import prerequisites

    frame = spark_frame_run
    stats = run(parse_spec(STATISTICS), data=synthetic_extract, timestamp=STAMP)
    # the cohort models impact.spark.cohort_views built were dropped when it exited
    assert not any(spark.catalog.tableExists(m) for m in prerequisites(["out_attendance_panel", "cov_baseline"]))
    assert set(stats.tables) == set(frame.tables) >= {*MODEL_TABLES, "cohort_sizes", "attrition"}
    for name, expected in frame.tables.items():
        got = stats.tables[name]
        assert got.height > 0, name
        assert got.schema == expected.schema, name
        if name not in MODEL_TABLES:  # counts: the same integers, after the same disclosure pass
            assert_frame_equal(got, expected, check_exact=True)
            continue
        floats = [c for c in FLOATS if c in expected.columns]
        # everything else (terms, counts n_obs / n_treated / n_comparison / n_clusters, df, periods,
        # disclosure flags) exactly
        assert_frame_equal(got.drop(floats), expected.drop(floats), check_exact=True)
        # the same regression, summed in another order: 1e-8 relative (tests/spark/test_statistics.py);
        # 1e-12 absolute for truths that are 0 up to rounding (estimates on zero individual effects)
        assert_frame_equal(got.select(floats), expected.select(floats), check_exact=False, rel_tol=1e-8, abs_tol=1e-12)
    truths = stats.estimates["truth"]
    assert truths.null_count() == 0 and (truths != 0).all()  # each estimate has its own estimand's truth
    assert stats.manifest["estimated_from"] == "sums computed in Spark (no pupil rows collected)"
    assert frame.manifest["estimated_from"] == "the analysis frame on the driver"
    assert stats.manifest["spec"]["spark"] == {"collect": "statistics"}
    assert {s["stage"] for s in stats.manifest["timings"]} == {"data", "validate", "cohort", "estimate", "disclosure"}
    assert any(n.startswith("did on overall_absence_rate: estimated in Spark") for n in stats.notes)


@pytest.mark.spark
def test_spark_subsets_are_the_frame_subsets(spark):
    from impact.pipeline import _spark_subsets, _subsets

    frame = pl.DataFrame({
        "treated": [1, 1, 0, 0, 1, 0],
        "highest_level": ["CIN", "CPP", None, None, "CIN", None],
        "nc_year": ["3", "9", "4", "10", "R", None],
        "la_band_number": ["small", "large", "large", "small", None, "small"],
        "row": list(range(6)),
    })
    spec = parse_spec({**STATISTICS, "subgroups": ["highest_level", "phase", "la_band_count"]})
    expected = {(g, lvl): sorted(rows["row"].to_list()) for g, lvl, rows in _subsets(spec, frame)}
    got = {(g, lvl): sorted(r["row"] for r in rows.select("row").collect())
           for g, lvl, rows in _spark_subsets(spec, spark.createDataFrame(frame.to_arrow()))}
    assert got == expected
    assert len(expected) == 7  # all; CIN, CPP; primary, secondary; large, small


@pytest.mark.parametrize("change, message", [
    ({"engine": "duckdb"}, r"spark\.collect: 'statistics' needs engine: spark \(got engine: duckdb\)"),
    ({"design": {"weight": {"covariates": ["ks2_read_score"]}}}, r"design: spark\.collect 'statistics' takes no"),
    ({"estimators": [{"att_gt": {}}]}, r"estimators\[0\]\.att_gt: .* did and event_study only"),
    ({"estimators": [{"did": {"cluster": "la", "inference": "wild"}}]},
     r"estimators\[0\]\.did\.inference: .* needs 'cluster' \(got 'wild'\)"),
    ({"estimators": [{"did": {"cluster": "la", "few_clusters": "wild"}}]},
     r"estimators\[0\]\.did\.few_clusters: .* has no wild bootstrap"),
    ({"estimators": [{"did": {"inference": "cluster"}}]}, r"estimators\[0\]\.did\.cluster: .* needs a cluster column"),
    ({"estimators": [{"event_study": {}}]}, r"estimators\[0\]\.event_study\.cluster: .* needs a cluster column"),
    ({"estimators": [{"event_study": {"cluster": "la", "threshold_outcomes": "from_rate"}}]},
     r"estimators\[0\]\.event_study\.threshold_outcomes: .* needs 'indicator' \(got 'from_rate'\)"),
    ({"panel": "post16"}, r"panel: spark\.collect 'statistics' supports the attendance and ks4 panels"),
])
def test_statistics_refuses_what_it_cannot_estimate(change, message):
    with pytest.raises(SpecError, match=message) as err:
        parse_spec({**STATISTICS, **change})
    assert "\n" not in str(err.value)


def test_collect_defaults_to_frame_and_is_checked():
    assert parse_spec(SPEC).spark.collect == "frame"
    with pytest.raises(SpecError, match=r"spark\.collect: must be one of 'frame' or 'statistics' \(got \"rows\"\)"):
        parse_spec({**SPEC, "spark": {"collect": "rows"}})
