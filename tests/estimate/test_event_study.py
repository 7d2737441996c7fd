"""event_study(): coefficients and joint pre-trend test against statsmodels with explicit dummies."""
import numpy as np
import pandas as pd
import polars as pl
import pytest
import statsmodels.api as sm

from impact.errors import DataError
from impact.estimate import EventStudyResult, event_study

from ._did_data import unbalanced_panel


@pytest.fixture
def panel():
    df = unbalanced_panel(seed=8, n_units=250, effect=1.0, start=4)
    rng = np.random.default_rng(0)
    return df.with_columns(pl.Series("rc", rng.integers(0, 40, df.height)))  # clusters crossing every FE


def _statsmodels_event_study(df, excluded=()):
    df = df.filter(~pl.col("time").is_in(list(excluded)))
    rel = np.where(df["treated"].to_numpy() == 1, df["time"].to_numpy() - 4, -999)
    events = sorted(e for e in set(rel.tolist()) if e not in (-999, -1))
    ev = np.column_stack([(rel == e).astype(float) for e in events])
    dummies = pd.get_dummies(df.select(pl.col("unit", "time").cast(str)).to_pandas(), drop_first=True).astype(float)
    x = np.column_stack([ev, np.ones(df.height), dummies.to_numpy()])
    groups = pd.factorize(df["rc"].to_numpy())[0]
    return events, sm.OLS(df["y"].to_numpy(), x).fit(cov_type="cluster", cov_kwds={"groups": groups})


def test_coefficients_errors_and_pretrend_match_statsmodels(panel):
    res = event_study(panel, "y", "treated", "time", treat_start=4, unit="unit", cluster="rc")
    events, ref = _statsmodels_event_study(panel)
    assert [t.extra["event_time"] for t in res.terms] == events
    np.testing.assert_allclose([t.estimate for t in res.terms], ref.params[: len(events)], rtol=1e-8)
    # Clusters cross every fixed effect, so k counts all levels, as with dummies.
    np.testing.assert_allclose([t.std_error for t in res.terms], ref.bse[: len(events)], rtol=1e-8)
    pre = [i for i, e in enumerate(events) if e < 0]
    r = np.zeros((len(pre), ref.params.size))
    r[np.arange(len(pre)), pre] = 1.0
    wald = ref.wald_test(r, scalar=True, use_f=True)
    assert res.pretrend["statistic"] == pytest.approx(float(wald.statistic), rel=1e-8)
    assert res.pretrend["df1"] == len(pre) and res.pretrend["df2"] == 39
    assert res.tidy()["period"].to_list() == [4 + e for e in events]


def test_excluded_periods_are_dropped_and_stated(panel, tmp_path):
    res = event_study(panel, "y", "treated", "time", treat_start=4, unit="unit", cluster="rc", exclude_periods=[5])
    events, ref = _statsmodels_event_study(panel, excluded=[5])
    assert 1 not in [t.extra["event_time"] for t in res.terms]
    np.testing.assert_allclose([t.estimate for t in res.terms], ref.params[: len(events)], rtol=1e-8)
    assert any("excluded" in n and "[5]" in n for n in res.notes) and res.info["excluded_periods"] == [5]
    assert isinstance(res, EventStudyResult) and res.excluded_event_times == [1]
    out = res.plot(str(tmp_path / "es.png"))
    assert open(out, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_planted_dynamic_effect_and_flat_pretrend(panel):
    res = event_study(panel, "y", "treated", "time", treat_start=4, unit="unit", cluster="cluster")
    # Four post and three pre coefficients: a 3.5-SE band keeps the family-wise miss rate below 0.5%.
    for t in res.terms:
        truth = 0.0 if t.extra["pre"] else 1.0
        assert abs(t.estimate - truth) < 3.5 * t.std_error
    assert res.pretrend["p_value"] > 0.01


def test_staggered_start_column(panel):
    start = pl.when(pl.col("cluster") % 2 == 0).then(4).otherwise(5)
    df = panel.with_columns(start.alias("first"))
    res = event_study(df, "y", "treated", "time", treat_start="first", unit="unit", cluster="cluster")
    assert res.tidy()["period"].null_count() == res.tidy().height  # calendar period not unique per event time


def test_errors(panel):
    with pytest.raises(DataError, match="never observed at the reference period e=-9"):
        event_study(panel, "y", "treated", "time", treat_start=4, reference=-9, unit="unit")
    with pytest.raises(DataError, match="never observed before treatment"):
        event_study(panel.filter(pl.col("time") >= 3), "y", "treated", "time", treat_start=3, reference=0,
                    unit="unit")
    flipped = panel.with_columns(
        pl.when(pl.int_range(pl.len()) < 2).then(1 - pl.col("treated")).otherwise(pl.col("treated")).alias("treated"))
    with pytest.raises(DataError, match=r"'treated' varies within unit 'unit' for \d+ of \d+ units"):
        event_study(flipped, "y", "treated", "time", treat_start=4, unit="unit")
    with pytest.raises(ValueError, match="PNG only"):
        event_study(panel, "y", "treated", "time", treat_start=4, unit="unit").plot("x.pdf")


def test_outcome_without_residual_variation_gives_a_nan_pretrend_test_not_an_error(panel):
    res = event_study(panel.with_columns(zero=pl.lit(0.0)), "zero", "treated", "time", treat_start=4, unit="unit",
                      cluster="cluster")
    assert all(t.estimate == 0 for t in res.terms)
    assert res.pretrend["statistic"] != res.pretrend["statistic"]  # NaN
