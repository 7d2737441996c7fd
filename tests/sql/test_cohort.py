"""Cohort assignment and its variants on the hand-made world (flags worked in test_flags.py)."""
from __future__ import annotations

import polars as pl
import pytest

from impact.cohorts import attrition, build_cohort

from .world import world


@pytest.fixture(scope="module")
def con():
    c = world()
    yield c
    c.close()


def _assign(frame: pl.DataFrame) -> dict[str, tuple]:
    return {r[0]: (r[1], r[2], r[3]) for r in frame.select(["pupil_id", "cohort", "treated", "exclusion_reason"]).iter_rows()}


def test_default_cohorts(con):
    got = _assign(build_cohort(con, years=2023))
    for p in ("P01", "P03", "P10", "P12"):
        assert got[p] == ("treated", 1, None)
    # P21 (derived Ever6 FSM), P22 (recorded), P23 (recorded): FSM, not CWSW
    for p in ("P21", "P22", "P23"):
        assert got[p] == ("comparison", 0, None)
    for p in ("P02", "P05", "P20"):
        assert got[p] == ("excluded", None, "not_fsm_not_cwsw")


def test_variants_give_reasons(con):
    no_cla = _assign(build_cohort(con, years=2023, exclude_cla=True))
    assert no_cla["P12"] == ("excluded", None, "cla_excluded") and no_cla["P10"][0] == "treated"
    current = _assign(build_cohort(con, years=2023, current_only=True))
    assert current["P01"] == ("excluded", None, "not_current_cwsw") and current["P03"][0] == "treated"
    cpp = _assign(build_cohort(con, years=2023, highest_level="CPP"))
    assert cpp["P10"][0] == "treated" and cpp["P01"] == ("excluded", None, "other_highest_level")
    everyone = _assign(build_cohort(con, years=2023, comparison="not_cwsw"))
    assert everyone["P02"] == ("comparison", 0, None)


def test_attrition_counts_unlinked_rows_by_la_and_year(con):
    table = attrition(con, years=2023)

    def n(stage, la=None, year=None, **eq):
        f = table.filter(pl.col("stage") == stage)
        for k, v in {"la": la, "year": year, **eq}.items():
            if v is not None:
                f = f.filter(pl.col(k) == v)
        return int(f["n"].sum())

    # 2023 CIN returns in LA 201 without a PMR: X01 and P19's later return.
    assert n("cin_rows_without_pmr", 201, 2023) == 2
    assert n("cin_episodes_without_pmr", 201, 2023) == 1  # only X01 stays unlinked
    assert n("cla_rows_without_pmr", 201, 2023) == 1  # K99
    assert n("cin_episodes_nfa") == 1 and n("cin_episodes_not_in_need_rc8") == 1 and n("cla_episodes_short_breaks") == 1
    # P15 (3 rows) and P16 (2 rows): 26 spring rows in 2023 for 23 pupils
    assert n("spring_census_rows", year=2023) == 26 and n("census_pupils_main_registration", year=2023) == 23
    # CWSW at 2023 (test_flags.EXPECTED_2023): P01 P03 P04 P06 P07 P10 P11 P12 P14 P17 P18 P19 = 12
    assert n("cohort", year=2023, cohort="treated") == 12
    assert n("cohort", year=2023, cohort="comparison") == 3  # P21 P22 P23
    assert n("cohort", year=2023, cohort="excluded") == 23 - 12 - 3
    # CWSW by episode but not by plan: those whose only interval is a CIN episode without a plan
    # (P10 has a CPP, P12 a CLA period, P18 a plan): P01 P03 P04 P06 P07 P11 P14 P17 P19 = 9
    assert n("cwsw_definitions_disagree", year=2023, detail="episode_only") == 9
    assert n("cwsw_definitions_disagree", detail="plan_only") == 0
