"""`engine: spark` end to end: the same spec gives the same released tables as `engine: duckdb`."""
from __future__ import annotations

import pytest
from polars.testing import assert_frame_equal

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


@pytest.mark.spark
def test_spark_engine_gives_the_duckdb_results(spark, synthetic_extract):
    runs = {}
    for engine in ("duckdb", "spark"):
        runs[engine] = run(parse_spec({**SPEC, "engine": engine}), data=synthetic_extract,
                           timestamp="2026-01-01T00:00:00+00:00")
    duck, sp = runs["duckdb"], runs["spark"]
    assert set(duck.tables) == set(sp.tables)
    for name, table in duck.tables.items():
        assert table.height > 0 or name == "attrition", name
        # same rows and values; floats to 1e-10 relative (sums may be taken in another order)
        assert_frame_equal(table, sp.tables[name], check_exact=False, rel_tol=1e-10, abs_tol=1e-12)
    assert sp.manifest["spec"]["engine"] == "spark"
