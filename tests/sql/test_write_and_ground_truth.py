"""The CLI's writer (atomic parquet) and, once the generator lands, cohort counts vs ground truth."""
from __future__ import annotations

import json

import polars as pl
import pytest

from impact import cohorts
from impact.errors import ParameterError

from .world import world


def test_write_cohorts_writes_every_table_atomically(tmp_path):
    con = world()
    paths = cohorts.write_cohorts(con, tmp_path / "out", years=[2023, 2024])
    assert set(paths) == set(cohorts.TABLES)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{t}.parquet" for t in cohorts.TABLES)
    written = pl.read_parquet(paths["cohort"]).sort(["census_year", "pupil_id"])
    assert written.equals(cohorts.build_cohort(con, years=[2023, 2024]).sort(["census_year", "pupil_id"]))
    assert "ever6_cwsw" in written.columns


@pytest.mark.parametrize("panel, single", [("attendance", cohorts.attendance_panel), ("ks4", cohorts.ks4_cohort)])
def test_analysis_tables_from_one_build_equal_the_single_entry_points(panel, single):
    con = world()
    options = dict(years=[2023, 2024], exclude_cla=True, keep_excluded=True)
    got = cohorts.build_analysis_tables(con, panel=panel, **options)
    expected = {"panel": single(con, **options), "covariates": cohorts.covariates(con, **options),
                "attrition": cohorts.attrition(con, **options)}
    assert set(got) == set(expected)
    for key, frame in expected.items():
        assert got[key].columns == frame.columns, key
        assert got[key].sort(frame.columns, nulls_last=True).equals(frame.sort(frame.columns, nulls_last=True)), key
    assert "ever6_cwsw" in got["panel"].columns
    with pytest.raises(ParameterError, match="'panel' parameter of build_analysis_tables"):
        cohorts.build_analysis_tables(con, panel="post16", years=[2023])


def test_write_cohorts_leaves_nothing_on_failure(tmp_path, monkeypatch):
    con = world()

    def fail(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(cohorts, "_write_parquet", fail)
    with pytest.raises(RuntimeError):
        cohorts.write_cohorts(con, tmp_path / "out", years=[2023])
    assert list((tmp_path / "out").iterdir()) == []


def _year_counts(truth: dict) -> dict[int, dict]:
    """Per-year counts from ground_truth.json.

    Expected layout (impact.data.synthetic): truth["cohort_counts"]["by_year"]["2023"] ==
    {"treated": n, "comparison": n, "ever6_cwsw": n, "ever6_cla": n, ...}, where treated is
    ever6_cwsw and not ever6_cla, and comparison EVERFSM_6 = 1 and not ever6_cwsw.
    """
    block = truth.get("cohort_counts", {})
    by_year = block.get("by_year") if isinstance(block, dict) else None
    if not by_year:
        raise AssertionError(f"ground_truth.json has no cohort_counts.by_year; top-level keys: {sorted(truth)}")
    return {int(str(y)[-4:]): v for y, v in by_year.items()}


def test_cohort_counts_equal_ground_truth(tmp_path):
    synthetic = pytest.importorskip("impact.data.synthetic")
    years = (2019, 2023)
    synthetic.generate(tmp_path / "npd", pupils=3000, seed=7, years=years)
    truth = _year_counts(json.loads((tmp_path / "npd" / "ground_truth.json").read_text()))
    frame = cohorts.build_cohort(tmp_path / "npd", years=range(years[0], years[1] + 1), exclude_cla=True)
    counts = {(r["census_year"], r["cohort"]): r["len"] for r in frame.group_by(["census_year", "cohort"]).len().iter_rows(named=True)}
    cwsw = {r["census_year"]: r["ever6_cwsw"] for r in frame.group_by("census_year").agg(pl.col("ever6_cwsw").sum()).iter_rows(named=True)}
    assert set(truth) == set(range(years[0], years[1] + 1))
    for year, expected in truth.items():
        got = (counts.get((year, "treated"), 0), counts.get((year, "comparison"), 0), cwsw[year])
        assert got == (expected["treated"], expected["comparison"], expected["ever6_cwsw"]), year


def _narrow_world():
    """The hand-made world, with enrolments that are not the main registration recording EVERFSM_6 = 1
    (P15's S row; P16's M row, its main C row recording none): candidates by a row the grid does not keep."""
    from .world import census_rows, cin_rows, cla_rows, summer_rows

    rows = []
    for r in census_rows():
        key = (r["PupilMatchingRefAnonymous"], r.get("EnrolStatus"), r["AcademicYear"])
        if key in {("P15", "S", "2022/2023"), ("P16", "M", "2022/2023")}:
            r = dict(r, EVERFSM_6=1)
        elif key == ("P15", "M", "2022/2023"):
            r = dict(r, EVERFSM_6=0)
        rows.append(r)
    from .extracts import connect
    return connect(spring_census=rows, summer_census=summer_rows(), cin=cin_rows(), cla_episodes=cla_rows())


def _built(narrow: bool, **options) -> tuple[int, dict[str, pl.DataFrame]]:
    """Grid rows and the analysis models from one build with (or without) the narrow grid."""
    from impact import sql

    con = _narrow_world()
    models = ["out_attendance_panel", "out_ks4", "cov_baseline", "attrition"]
    opts = cohorts._for_tables(cohorts.CohortOptions.checked("test", **options), models + ["cohort_pupil_census"] * (not narrow))
    assert opts.narrow_grid == narrow
    deps = sql.prerequisites(models)
    sql.build(con, deps, opts.sql_params(deps), passes=opts.yearly_passes)
    grid = con.execute("SELECT COUNT(*) FROM flag_grid").fetchall()[0][0]
    return grid, {m: sql.run_query(con, m, opts.sql_params([m], own=True)) for m in models}


@pytest.mark.parametrize("options", [
    dict(years=[2022, 2023, 2024]),
    dict(years=[2023, 2024], definition="plan", exclude_cla=True, include_nfa=True),
    dict(years=[2022, 2023, 2024], keep_excluded=True),
    dict(years=[2023, 2024], comparison="not_cwsw"),
])
def test_narrow_grid_gives_the_same_tables(options):
    # With the default comparison and no keep_excluded the stored grid keeps only the pupil-years
    # that can be treated or comparison; every table read from it (and the counts of attrition and
    # the LA bands, which need every pupil-year) is unchanged.
    full_rows, full = _built(False, **options)
    narrow_rows, narrow = _built(True, **options)
    narrows = options.get("comparison", "ever6_fsm_not_cwsw") == "ever6_fsm_not_cwsw" and not options.get("keep_excluded")
    assert (narrow_rows < full_rows) if narrows else (narrow_rows == full_rows)
    excluded = full["attrition"].filter(pl.col("detail") == "not_fsm_not_cwsw")["n"].sum()
    assert excluded > 0 if options.get("comparison") is None else excluded == 0
    for model, frame in full.items():
        assert narrow[model].schema == frame.schema, model
        assert narrow[model].sort(frame.columns, nulls_last=True).equals(frame.sort(frame.columns, nulls_last=True)), model


def test_written_columns_name_the_window_and_row_groups_follow_batch_rows(tmp_path):
    import pyarrow.parquet as pq

    synthetic = pytest.importorskip("impact.data.synthetic")
    synthetic.generate(tmp_path / "npd", pupils=2000, seed=3, years=(2022, 2023))
    paths = cohorts.write_cohorts(tmp_path / "npd", tmp_path / "out", tables=["cohort"], years=[2022, 2023],
                                  lookback_years=4, treated="ever4_cwsw", batch_rows=2048)
    written = pl.read_parquet(paths["cohort"])
    assert "ever4_cwsw" in written.columns and not any(c.startswith(("ever_", "ever6_c")) for c in written.columns)
    meta = pq.ParquetFile(paths["cohort"]).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert sum(sizes) == written.height > 2048 and max(sizes) <= 2048  # several row groups, none larger
