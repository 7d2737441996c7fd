"""ground_truth/: each treated post unit's individual effect, equal to the realised ATT on average
and keyed so that it joins exactly the treated post rows of the attendance, KS4 and post-16 panels."""
from __future__ import annotations

import shutil

import polars as pl
import pytest

from impact.cohorts import attendance_panel, ks4_cohort, post16_panel
from impact.data.synthetic import PlantedEffects, generate
from impact.data.synthetic.unit_effects import SCHEMAS
from impact.data.validate import check_extracts

YEARS = (2021, 2023)
POLICY_YEAR = 2022
# a large EET effect and a dynamic multiplier, so that the few post-16 rows of a small extract
# carry non-zero effects and the yearly means differ
EFFECTS = PlantedEffects(pp_eet=0.3, dynamic=(1.0, 2.0))

#: file -> (group of realised_att, its key columns, its time column, column -> realised_att name)
FILES = {
    "vsh_attendance": ("vsh", ["pupil_id", "academic_year"], "academic_year", {
        c: c for c in ("overall_absence_rate", "authorised_absence_rate", "unauthorised_absence_rate",
                       "persistent_absence", "severe_absence")}),
    "vsh_ks4": ("vsh", ["pupil_id", "ks4_year"], "ks4_year",
                {"att8": "attainment8", "em94": "l2basics_94", "em95": "l2basics_95"}),
    "pp_plus": ("pp_plus", ["la", "child_id", "collection_year"], "collection_year", {"eet": "eet"}),
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return generate(tmp_path_factory.mktemp("gt") / "npd", pupils=20_000, seed=7, years=YEARS, effects=EFFECTS)


def _effects(data, name: str) -> pl.DataFrame:
    return pl.read_parquet(data.path / "ground_truth" / f"{name}.parquet")


def _schema(name: str) -> pl.Schema:
    return pl.from_arrow(SCHEMAS[f"{name}.parquet"].empty_table()).schema


@pytest.mark.parametrize("name", list(FILES))
def test_yearly_means_equal_the_realised_att(data, name):
    group, keys, time, outcomes = FILES[name]
    frame = _effects(data, name)
    assert frame.schema == _schema(name)
    assert frame.height > 0 and frame[time].min() >= POLICY_YEAR
    assert frame.select(keys).is_unique().all() and frame.null_count().sum_horizontal().item() == 0
    assert data.files[f"ground_truth/{name}.parquet"] == frame.height
    realised = data.ground_truth["realised_att"][group]
    for column, key in outcomes.items():
        by_year = realised[key]["by_year"]
        got = frame.group_by(time).agg(n=pl.len(), att=pl.col(column).cast(pl.Float64).mean())
        assert sorted(got[time].to_list()) == sorted(int(y) for y in by_year)
        for year, n, att in got.iter_rows():
            assert n == by_year[str(year)]["n"], (column, year)
            assert att == pytest.approx(by_year[str(year)]["att"], rel=1e-12, abs=1e-12), (column, year)
    nonzero = frame.select(pl.col(list(outcomes)).cast(pl.Float64).abs().sum()).row(0)
    assert all(v > 0 for v in nonzero), "every outcome moves for some unit (the test is not vacuous)"


def _check_join(effects: pl.DataFrame, panel: pl.DataFrame, keys: list[str], treated_post: pl.Expr,
                outcomes: dict[str, tuple[float, float] | set[int]]) -> None:
    """Every effect row matches exactly one treated post panel row and vice versa; the panel's
    observed outcome minus the effect (= Y(0)) is a value the outcome can take."""
    treated = panel.filter(treated_post)
    assert effects.join(panel, on=keys, how="anti").height == 0
    assert treated.join(effects, on=keys, how="anti").height == 0
    joined = panel.join(effects, on=keys, how="inner", suffix="_effect")
    assert joined.height == effects.height == treated.height
    assert joined.filter(~treated_post).height == 0
    for column, allowed in outcomes.items():
        y0 = joined[column].cast(pl.Float64) - joined[f"{column}_effect"].cast(pl.Float64)
        if isinstance(allowed, set):
            assert set(y0.unique().to_list()) <= allowed, column
        else:
            assert y0.min() >= allowed[0] - 1e-12 and y0.max() <= allowed[1] + 1e-12, column


def test_attendance_effects_join_the_treated_post_rows_of_the_attendance_panel(data):
    panel = attendance_panel(data.path, years=range(YEARS[0], YEARS[1] + 1), exclude_cla=True)
    treated_post = (pl.col("cohort") == "treated") & (pl.col("academic_year") >= POLICY_YEAR)
    rates = {c: (0.0, 1.0) for c in ("overall_absence_rate", "authorised_absence_rate", "unauthorised_absence_rate")}
    _check_join(_effects(data, "vsh_attendance"), panel, ["pupil_id", "academic_year"], treated_post,
                {**rates, "persistent_absence": {0.0, 1.0}, "severe_absence": {0.0, 1.0}})


def test_ks4_effects_join_the_treated_post_rows_of_the_ks4_cohort(data):
    panel = ks4_cohort(data.path, years=range(YEARS[0], YEARS[1] + 1), exclude_cla=True)
    treated_post = (pl.col("cohort") == "treated") & (pl.col("ks4_year") >= POLICY_YEAR)
    _check_join(_effects(data, "vsh_ks4"), panel, ["pupil_id", "ks4_year"], treated_post,
                {"att8": (0.0, 90.0), "em94": {0.0, 1.0}, "em95": {0.0, 1.0}})


def test_post16_effects_join_the_in_pilot_returns_of_the_post16_panel(data):
    panel = post16_panel(data.path, years=range(YEARS[0], YEARS[1] + 1))
    # rows with no recorded activity (LA not in touch) have no EET outcome and no effect
    treated_post = (pl.col("in_pilot") == 1) & pl.col("eet").is_not_null()
    _check_join(_effects(data, "pp_plus"), panel, ["la", "child_id", "collection_year"], treated_post,
                {"eet": {0.0, 1.0}})


def test_zero_effects_give_zero_individual_effects_on_the_same_rows(data, tmp_path):
    zero = generate(tmp_path / "zero", pupils=20_000, seed=7, years=YEARS, effects=PlantedEffects.zero())
    for name, (_, keys, _, outcomes) in FILES.items():
        planted, none = _effects(data, name), _effects(zero, name)
        assert none.select(keys).equals(planted.select(keys)), name
        assert none.height > 0, name
        assert none.select(pl.col(list(outcomes)).cast(pl.Float64).abs().max()).max_horizontal().item() == 0.0, name
    # common random numbers: every population file is identical, and each outcome less its individual
    # effect is the outcome drawn without any effect (the effects change Y(1) only, never Y(0))
    for f in sorted(p.name for p in zero.path.glob("*.parquet") if p.name.startswith(("spring_census", "cin", "cla", "exclusions", "ks2"))):
        assert (zero.path / f).read_bytes() == (data.path / f).read_bytes(), f
    years = range(YEARS[0], YEARS[1] + 1)
    ks4 = [ks4_cohort(d.path, years=years, exclude_cla=True).select("pupil_id", "ks4_year", "att8") for d in (data, zero)]
    tau = _effects(data, "vsh_ks4").select("pupil_id", "ks4_year", pl.col("att8").alias("tau"))
    y0 = ks4[0].join(tau, on=["pupil_id", "ks4_year"], how="left").with_columns(pl.col("tau").fill_null(0.0))
    both = y0.join(ks4[1], on=["pupil_id", "ks4_year"], suffix="_zero")
    assert both.height == ks4[1].height > 0
    assert (both["att8"] - both["tau"] - both["att8_zero"]).abs().max() < 1e-9


def test_extract_check_ignores_the_ground_truth_folder(data, tmp_path):
    bare = shutil.copytree(data.path, tmp_path / "bare", ignore=shutil.ignore_patterns("ground_truth"))
    with_folder, without = check_extracts(data.path), check_extracts(bare)
    assert with_folder.errors == ()
    assert with_folder.problems == without.problems
    assert with_folder.info == without.info
    assert not any("ground_truth" in line for line in with_folder.lines())


def test_no_treated_post_years_writes_empty_files_with_their_schema(tmp_path):
    g = generate(tmp_path / "pre", pupils=1_000, seed=1, years=(2020, 2021))
    for name in FILES:
        frame = _effects(g, name)
        assert frame.height == 0 and frame.schema == _schema(name)
