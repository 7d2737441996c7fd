"""The shared building blocks: parameter checks, input coercion, the result type, exit codes."""
from __future__ import annotations

import math

import polars as pl
import pytest
from scipy import stats

from impact.errors import DataError, DisclosureError, ImpactError, ParameterError, SpecError
from impact.frame import as_polars, require_binary, require_columns, require_no_missing, require_numeric
from impact.params import check_choice, check_columns_arg, check_number
from impact.results import TIDY_COLUMNS, EffectResult, Term, wald


def test_exit_codes_follow_the_documented_contract():
    assert ImpactError.exit_code == 1
    assert ParameterError.exit_code == SpecError.exit_code == 2
    assert DataError.exit_code == 3
    assert DisclosureError.exit_code == 4
    assert issubclass(ParameterError, ValueError) and issubclass(DataError, ValueError)


def test_check_number_message_names_parameter_rule_and_value():
    with pytest.raises(ParameterError) as e:
        check_number("match", "caliper", -1, low=0, low_open=True)
    assert str(e.value) == "The 'caliper' parameter of match must be a float in (0, inf). Got -1 instead."


@pytest.mark.parametrize("value", [True, "3", float("nan"), 0.5])
def test_check_number_rejects_bools_strings_nan_and_non_ints(value):
    with pytest.raises(ParameterError):
        check_number("f", "ratio", value, low=1, integer=True)


def test_check_number_accepts_bounds_and_none_when_allowed():
    assert check_number("f", "x", 0, low=0) == 0
    assert check_number("f", "x", None, allow_none=True) is None
    with pytest.raises(ParameterError, match=r"\[0, 1\]"):
        check_number("f", "x", 1.5, low=0, high=1)


def test_check_choice_lists_choices():
    assert check_choice("did", "inference", "wild", ("cluster", "wild")) == "wild"
    with pytest.raises(ParameterError, match="one of 'cluster', 'wild'. Got 'boot' instead"):
        check_choice("did", "inference", "boot", ("cluster", "wild"))


def test_check_columns_arg_normalises_and_rejects_duplicates():
    assert check_columns_arg("f", "covariates", "a") == ["a"]
    assert check_columns_arg("f", "covariates", ("a", "b")) == ["a", "b"]
    assert check_columns_arg("f", "covariates", None, allow_none=True) == []
    with pytest.raises(ParameterError, match="distinct"):
        check_columns_arg("f", "covariates", ["a", "a"])
    with pytest.raises(ParameterError):
        check_columns_arg("f", "covariates", [1, 2])


@pytest.mark.parametrize("kind", ["polars", "pandas", "arrow", "lazy"])
def test_as_polars_accepts_the_three_frame_types(kind):
    base = pl.DataFrame({"y": [1.0, 2.0], "d": [0, 1]})
    data = {"polars": base, "pandas": base.to_pandas(), "arrow": base.to_arrow(), "lazy": base.lazy()}[kind]
    assert as_polars(data).equals(base)


def test_as_polars_rejects_other_types_naming_them():
    with pytest.raises(DataError, match="got list"):
        as_polars([1, 2], owner="did")


def test_column_checks_name_the_column_and_count():
    df = pl.DataFrame({"y": [1.0, None, float("nan")], "d": [0, 1, 2], "s": ["a", "b", "c"]})
    with pytest.raises(DataError, match=r"unknown column 'x' \(available: y, d, s\)"):
        require_columns(df, ["y", "x"], owner="did")
    with pytest.raises(DataError, match="column 'y' has 2 missing value"):
        require_no_missing(df, ["d", "y"], owner="did")
    with pytest.raises(DataError, match="'s' must be numeric"):
        require_numeric(df, ["s"], owner="did")
    with pytest.raises(DataError, match="must be 0/1; found values \\[2.0\\]"):
        require_binary(df, "d", owner="did")
    with pytest.raises(DataError, match="both 0 and 1"):
        require_binary(pl.DataFrame({"d": [1, 1]}), "d", owner="did")


def test_wald_uses_t_when_df_given_and_normal_otherwise():
    stat, p, lo, hi = wald(2.0, 1.0, df=5)
    assert stat == 2.0
    assert p == pytest.approx(2 * stats.t(5).sf(2.0), rel=1e-12)
    assert hi - 2.0 == pytest.approx(stats.t(5).ppf(0.975), rel=1e-12)
    _, pz, loz, _ = wald(2.0, 1.0)
    assert pz == pytest.approx(2 * stats.norm.sf(2.0), rel=1e-12)
    assert loz == pytest.approx(2.0 - 1.959963984540054, rel=1e-12)
    assert all(math.isnan(v) for v in wald(1.0, 0.0))


def test_tidy_has_the_shared_columns_in_order_then_extras():
    res = EffectResult(
        "did",
        [
            Term.from_estimate("att", 1.0, 0.5, df=10, n_obs=100, n_clusters=11, event_time=0),
            Term.from_estimate("pre", 0.1, 0.2, n_obs=100, event_time=-2),
        ],
        info={"n_obs": 100},
        notes=["singletons dropped: 0"],
    )
    t = res.tidy()
    assert tuple(t.columns) == (*TIDY_COLUMNS, "method", "event_time")
    assert t["event_time"].to_list() == [0, -2]
    assert t["n_clusters"].to_list() == [11, None]
    assert res.estimate == 1.0 and res.term("pre").std_error == 0.2
    with pytest.raises(KeyError, match="available"):
        res.term("nope")
    assert "singletons dropped" in res.summary()
    assert res.to_dict()["terms"][0]["extra"] == {"event_time": 0}


def test_every_public_name_resolves():
    import impact

    for name in impact.__all__:
        assert getattr(impact, name) is not None
    assert impact.match.__module__.startswith("impact.design")
    with pytest.raises(AttributeError):
        impact.not_a_thing  # noqa: B018
