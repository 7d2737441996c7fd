"""DiD and event study from statistics summed in Spark: the same results as did() / event_study() on the rows.

Every comparison is against the in-memory estimator on the very rows handed to Spark. The maths is
the same (Frisch-Waugh-Lovell: the largest fixed effect demeaned, the others as dummy columns), so
estimates and standard errors must agree to 1e-8 relative (only the summation order differs), and
the counts, degrees of freedom and k exactly.
"""
from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from impact.errors import DataError, ParameterError
from impact.estimate.did import did
from impact.estimate.event_study import event_study

pytest.importorskip("pyspark")
pytest.importorskip("sqlglot")

from impact.spark.statistics import MAX_DUMMIES, did_statistics, event_study_statistics  # noqa: E402

pytestmark = pytest.mark.spark
REL = 1e-8
COUNTS = ("df", "n_obs", "n_clusters", "n_treated", "n_comparison")


def _panel(seed: int = 3, units: int = 240) -> pl.DataFrame:
    """An unbalanced pupil x year panel: a third treated, a 0.5 effect from 2020, pupils seen once (singletons),
    some moving LA, a pupil-level LA and school (`home_la`, `school`: pupils nest in them), and one `grp`
    level seen once on a pupil seen twice, so dropping singletons takes two rounds."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(units):
        treated, home = int(u % 3 == 0), f"L{u % 9}"
        years = [y for y in range(2015, 2023) if rng.random() < 0.75] if u % 25 else [2017]
        for y in years:
            la = home if rng.random() < 0.93 else f"L{rng.integers(0, 9)}"
            rows.append(dict(pid=f"p{u:03d}", year=y, treated=treated, la=la, home_la=home, school=u % 30,
                             fsm=int(rng.random() < 0.4),
                             grp=["a", "b", "c"][rng.integers(0, 3)], x1=rng.normal(),
                             start=2019 + u % 2 if treated else None,
                             y=rng.normal() + 0.5 * treated * (y >= 2020) + 0.05 * (y - 2015) + 0.3 * treated))
    rows += [dict(rows[0], pid="p999", year=2016, grp="z"), dict(rows[0], pid="p999", year=2018)]
    return pl.DataFrame(rows).with_columns(post=(pl.col("year") >= 2020).cast(pl.Int8))


@pytest.fixture(scope="module")
def small(spark):
    df = _panel()
    return df, spark.createDataFrame(df.to_arrow())


def _same_term(ours, theirs) -> None:
    assert ours.term == theirs.term
    assert ours.estimate == pytest.approx(theirs.estimate, rel=REL, abs=0)
    assert ours.std_error == pytest.approx(theirs.std_error, rel=REL, abs=0)
    for field in COUNTS:
        assert getattr(ours, field) == getattr(theirs, field), field


def _same_did(ours, theirs) -> None:
    _same_term(ours.terms[0], theirs.terms[0])
    assert ours.method == theirs.method
    for key in ("k", "fe_levels", "dropped_singletons"):
        assert ours.info[key] == theirs.info[key], key
    assert ours.info["covariates"] == pytest.approx(theirs.info["covariates"], rel=REL)


@pytest.mark.parametrize("fixed_effects, covariates, cluster", [
    (["pid", "year"], None, "la"),  # the absorbed pupils are not nested in la (movers)
    (["pid", "year", "grp^treated"], None, ["la", "school"]),  # two-way clustering
    (["year", "home_la"], None, "home_la"),  # no high-dimensional effect; the absorbed one nested in the cluster
    (["pid", "la"], None, "la"),  # a dummy dimension nested in the cluster
    (None, "x1", "la"),  # the 2x2 regression with an intercept
])
def test_did_statistics_equals_did(small, fixed_effects, covariates, cluster):
    df, sdf = small
    args = dict(fixed_effects=fixed_effects, covariates=covariates, cluster=cluster)
    _same_did(did_statistics(sdf, "y", "treated", "post", **args), did(df, "y", "treated", "post", **args))


def test_interacted_dummies_covariate_and_two_singleton_rounds(small):
    df, sdf = small
    args = dict(fixed_effects=["pid", "year^fsm^grp"], covariates="x1", cluster="la")
    theirs = did(df, "y", "treated", "post", **args)
    assert theirs.info["dropped_singletons"] > df.filter(pl.len().over("pid") == 1).height  # p999 went in round 2
    _same_did(did_statistics(sdf, "y", "treated", "post", **args), theirs)


def test_same_bits_whatever_the_input_partitioning(small):
    _, sdf = small
    runs = [did_statistics(frame, "y", "treated", "post", fixed_effects=["pid", "year^fsm"], cluster="la").terms[0]
            for frame in (sdf, sdf.repartition(5))]
    assert (runs[0].estimate, runs[0].std_error) == (runs[1].estimate, runs[1].std_error)


def _same_event_study(ours, theirs) -> None:
    assert [t.term for t in ours.terms] == [t.term for t in theirs.terms]
    for a, b in zip(ours.terms, theirs.terms):
        _same_term(a, b)
        assert a.extra == b.extra
    assert ours.pretrend["statistic"] == pytest.approx(theirs.pretrend["statistic"], rel=REL)
    assert ours.pretrend["df1"] == theirs.pretrend["df1"]
    assert ours.excluded_event_times == theirs.excluded_event_times
    assert ours.info["k"] == theirs.info["k"]


@pytest.mark.parametrize("treat_start, fixed_effects, covariates", [
    (2020, ["pid", "year^fsm"], "x1"),
    ("start", ["pid", "year"], None),  # staggered starts from a column
])
def test_event_study_statistics_equals_event_study(small, treat_start, fixed_effects, covariates):
    df, sdf = small
    args = dict(treat_start=treat_start, reference=-1, exclude_periods=[2018], fixed_effects=fixed_effects,
                covariates=covariates, cluster="la")
    _same_event_study(event_study_statistics(sdf, "y", "treated", "year", **args),
                      event_study(df, "y", "treated", "year", **args))


HEADLINE_FE = ["pupil_id", "year^fsm_eligible^sen_provision", "nc_year^treated"]


@pytest.fixture(scope="module")
def attendance(spark, synthetic_extract):
    """The attendance panel of the synthetic extract as the pipeline hands it to did (treated and comparison
    rows, `year`, `post`); built by DuckDB (the Spark build gives the same rows: test_parity.py) and
    handed to Spark through Arrow."""
    from impact.cohorts import attendance_panel

    panel = (attendance_panel(synthetic_extract, years=range(2017, 2024), exclude_cla=True)
             .rename({"academic_year": "year"})
             .filter(pl.col("cohort").is_in(["treated", "comparison"]) & pl.col("overall_absence_rate").is_not_null())
             .with_columns(post=(pl.col("year") >= 2022).cast(pl.Int8))
             .sort("pupil_id", "year"))
    return panel, spark.createDataFrame(panel.to_arrow())


def test_headline_did_on_the_synthetic_attendance_panel(attendance):
    panel, sdf = attendance
    keep = ~pl.col("year").is_in([2020, 2021])
    args = dict(fixed_effects=HEADLINE_FE, cluster="la", covariates="partial_year")
    rows = sdf.filter(~sdf["year"].isin([2020, 2021]))
    ours = did_statistics(rows, "overall_absence_rate", "treated", "post", **args)
    theirs = did(panel.filter(keep), "overall_absence_rate", "treated", "post", **args)
    assert theirs.info["fe_levels"] > 500 and theirs.terms[0].n_clusters > 20  # a real panel, not a toy
    _same_did(ours, theirs)


def test_headline_event_study_on_the_synthetic_attendance_panel(attendance):
    panel, sdf = attendance
    args = dict(treat_start=2022, reference=-3, exclude_periods=[2020, 2021], fixed_effects=HEADLINE_FE, cluster="la")
    _same_event_study(event_study_statistics(sdf, "persistent_absence", "treated", "year", **args),
                      event_study(panel, "persistent_absence", "treated", "year", **args))


# --- errors ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wide(spark):
    """600 pupils in 600 schools, and two 300-level codes: more dummies than allowed."""
    n = 1200
    i = np.arange(n)
    df = pl.DataFrame({"pid": i % 600, "school": i % 600 + 1000, "a": i % 300, "b": i // 4 % 300, "la": i % 7,
                       "y": i * 0.1, "treated": (i % 600 < 200).astype(np.int8), "post": (i >= 600).astype(np.int8)})
    return spark.createDataFrame(df.to_arrow())


def test_two_high_dimensional_fixed_effects_are_refused(wide):
    with pytest.raises(ParameterError, match=r"must have at most one high-dimensional fixed effect .*'school'"):
        did_statistics(wide, "y", "treated", "post", fixed_effects=["pid", "school"], cluster="la")


def test_too_many_dummies_are_refused(wide):
    with pytest.raises(ParameterError, match=rf"at most {MAX_DUMMIES} dummy columns .*'a' \(300 levels\), "
                                             r"'b' \(300 levels\): 598 columns"):
        did_statistics(wide, "y", "treated", "post", fixed_effects=["pid", "a", "b"], cluster="la")


@pytest.mark.parametrize("args, message", [
    (dict(covariates="nope"), r"did_statistics: unknown column 'nope'"),
    (dict(fixed_effects=["pid", "year^nope"]), r"unknown part of the fixed effect 'year\^nope' 'nope'"),
    (dict(cluster="nope"), r"did_statistics: unknown column 'nope'"),
])
def test_missing_column_is_named(small, args, message):
    _, sdf = small
    with pytest.raises(DataError, match=message):
        did_statistics(sdf, "y", "treated", "post", **{"fixed_effects": ["pid", "year"], "cluster": "la", **args})


def test_bad_arguments_are_refused_before_spark_runs(small):
    df, sdf = small
    with pytest.raises(ParameterError, match="The 'frame' parameter of did_statistics must be a pyspark DataFrame"):
        did_statistics(df, "y", "treated", "post", fixed_effects="pid", cluster="la")
    with pytest.raises(ParameterError, match="The 'cluster' parameter of event_study_statistics must name one or two"):
        event_study_statistics(sdf, "y", "treated", "year", treat_start=2020, fixed_effects="pid", cluster=None)


def test_non_binary_treatment_is_named(small):
    _, sdf = small
    with pytest.raises(DataError, match=r"treatment column 'year' must be 0/1; found values \[2015.0, 2016.0"):
        did_statistics(sdf, "y", "year", "post", fixed_effects="pid", cluster="la")
