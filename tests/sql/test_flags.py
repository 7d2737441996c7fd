"""Social-care and FSM flags on the hand-made world (tests/sql/world.py holds the worked dates)."""
from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from impact import sql
from impact.cohorts import build_cohort

from .extracts import census, cin, connect
from .world import world

# (ever6_cin, ever6_cpp, ever6_cla, ever6_cwsw, current_cwsw, highest_level) at the 2023 census.
EXPECTED_2023 = {
    "P01": (1, 0, 0, 1, 0, "CIN"),  # closed 2017-01-19 = window start (inclusive)
    "P02": (0, 0, 0, 0, 0, None),  # closed 2017-01-18, one day before the window
    "P03": (1, 0, 0, 1, 1, "CIN"),  # open at the census
    "P04": (1, 0, 0, 1, 1, "CIN"),  # starts on c: start <= c <= end
    "P05": (0, 0, 0, 0, 0, None),  # starts c + 1 day
    "P06": (1, 0, 0, 1, 0, "CIN"),  # repeated; latest return closed it 2022-06-30
    "P07": (1, 0, 0, 1, 1, "CIN"),  # overlapping, the second still open
    "P08": (0, 0, 0, 0, 0, None),  # NFA excluded by default
    "P09": (0, 0, 0, 0, 0, None),  # RC8 excluded by default
    "P10": (1, 1, 0, 1, 0, "CPP"),  # CPP 2019 inside the window
    "P11": (1, 0, 0, 1, 1, "CIN"),  # CPP starts 2023-02-01, after c
    "P12": (0, 0, 1, 1, 0, "CLA"),  # CLA only
    "P13": (0, 0, 0, 0, 0, None),  # short break V3 excluded by default
    "P14": (1, 0, 0, 1, 0, "CIN"),  # CIN returned by LA 202, school in LA 201
    "P17": (1, 0, 0, 1, 0, "CIN"),
    "P18": (1, 0, 0, 1, 0, "CIN"),
    "P19": (1, 0, 0, 1, 0, "CIN"),  # PMR only on the earlier return; closed 2021-08-01
}
COLS = ["ever6_cin", "ever6_cpp", "ever6_cla", "ever6_cwsw", "current_cwsw", "highest_level"]


@pytest.fixture(scope="module")
def con():
    c = world()
    yield c
    c.close()


def _flags(frame: pl.DataFrame, year: int, cols=COLS) -> dict[str, tuple]:
    rows = frame.filter(pl.col("census_year") == year).sort("pupil_id")
    return {r[0]: tuple(r[1:]) for r in rows.select(["pupil_id", *cols]).iter_rows()}


def test_census_dates_follow_the_rule(con):
    sql.build(con, ["stg_census_dates"])
    got = dict(con.sql("SELECT academic_year, census_date FROM stg_census_dates WHERE census_term = 'SPR'").fetchall())
    # third Thursdays of January (1 January falls on: 2017 Sun, 2018 Mon, 2019 Tue, 2020 Wed,
    # 2021 Fri, 2022 Sat, 2023 Sun, 2024 Mon -> first Thursday 5, 4, 3, 2, 7, 6, 5, 4; plus 14 days)
    assert got == {
        2017: dt.date(2017, 1, 19), 2018: dt.date(2018, 1, 18), 2019: dt.date(2019, 1, 17),
        2020: dt.date(2020, 1, 16), 2021: dt.date(2021, 1, 21), 2022: dt.date(2022, 1, 20),
        2023: dt.date(2023, 1, 19), 2024: dt.date(2024, 1, 18),
    }
    summer = con.sql("SELECT census_date FROM stg_census_dates WHERE census_term = 'SUM'").fetchall()
    assert summer == [(dt.date(2017, 5, 18),)]


def test_census_date_is_the_earliest_recorded_over_both_label_forms():
    # Rows are grouped by label as written, then by the parsed year: '2022/2023' and '2022/23' are
    # one census, dated by the earliest CensusDate of either; one row per term and year.
    con = connect(spring_census=[census("A", 2023, CensusDate=dt.date(2023, 1, 26)),
                                 dict(census("B", 2023, CensusDate=dt.date(2023, 1, 19)), AcademicYear="2022/23"),
                                 dict(census("C", 2023, CensusDate=None), AcademicYear="2022/23")])
    sql.build(con, ["stg_census_dates"])
    got = con.sql("SELECT census_term, academic_year, census_date, census_date_from_rule FROM stg_census_dates").fetchall()
    assert got == [("SPR", 2023, dt.date(2023, 1, 19), 0)]


def test_recorded_census_date_moves_the_window():
    # CensusDate recorded as 2023-01-26 -> window starts 2017-01-26; an episode closed 2017-01-20
    # counted under the rule date (window from 2017-01-19) but not under the recorded one.
    con = connect(spring_census=[census("A", 2023, CensusDate="2023-01-26")],
                  cin=[cin("A", "CA", 2017, "2016-05-01", "2017-01-20")])
    assert build_cohort(con, years=2023)["ever6_cwsw"].to_list() == [0]


def test_every_edge_case_at_2023(con):
    got = _flags(build_cohort(con, years=[2023, 2024]), 2023)
    for pupil, expected in EXPECTED_2023.items():
        assert got[pupil] == expected, pupil


def test_flags_move_with_the_census_year(con):
    got = _flags(build_cohort(con, years=[2023, 2024]), 2024)
    # 2024 window [2018-01-18, 2024-01-18]
    assert got["P01"] == (0, 0, 0, 0, 0, None)  # closed 2017
    assert got["P04"] == (1, 0, 0, 1, 0, "CIN")  # closed 2023-03-01, before c
    assert got["P05"] == (1, 0, 0, 1, 1, "CIN")  # started 2023-01-20, open
    assert got["P11"] == (1, 1, 0, 1, 1, "CPP")  # CPP 2023-02-01..2023-12-01 in window; CIN still open


def test_repeated_episodes_collapse_to_one(con):
    sql.build(con, ["stg_cin"])
    rows = con.sql(
        "SELECT child_id, kind, pupil_id, end_date, returns_count FROM stg_cin WHERE child_id IN ('C06', 'C11', 'C19') ORDER BY 1, 2"
    ).fetchall()
    assert rows == [
        ("C06", "cin", "P06", dt.date(2022, 6, 30), 2),
        ("C11", "cin", "P11", None, 2),
        ("C11", "cpp", "P11", dt.date(2023, 12, 1), 2),  # latest return's CPP end
        ("C19", "cin", "P19", dt.date(2021, 8, 1), 2),  # PMR recovered from the earlier return
    ]


@pytest.mark.parametrize(
    ("switch", "pupil", "column"),
    [
        ({"include_nfa": True}, "P08", "ever6_cin"),
        ({"include_not_in_need": True}, "P09", "ever6_cin"),
        ({"exclude_short_breaks": False}, "P13", "ever6_cla"),
    ],
)
def test_switches_include_what_the_default_excludes(con, switch, pupil, column):
    default = build_cohort(con, years=2023).filter(pl.col("pupil_id") == pupil)
    switched = build_cohort(con, years=2023, **switch).filter(pl.col("pupil_id") == pupil)
    assert default[column].to_list() == [0] and default["ever6_cwsw"].to_list() == [0]
    assert switched[column].to_list() == [1] and switched["ever6_cwsw"].to_list() == [1]


def test_plan_definition_differs_from_episode_definition(con):
    episode = _flags(build_cohort(con, years=2023), 2023, ["ever6_cwsw", "ever6_cwsw_episode", "ever6_cwsw_plan", "cwsw_definition"])
    plan = _flags(build_cohort(con, years=2023, definition="plan"), 2023, ["ever6_cwsw", "cwsw_definition"])
    # P17: episode without a CIN plan -> CWSW by episode only. P18: plan inside its episode -> both.
    assert episode["P17"] == (1, 1, 0, "episode") and plan["P17"] == (0, "plan")
    assert episode["P18"] == (1, 1, 1, "episode") and plan["P18"] == (1, "plan")
    # CPP and CLA count under both definitions
    assert plan["P10"] == (1, "plan") and plan["P12"] == (1, "plan")


def test_lookback_parameter_changes_window_and_labels(con):
    # L = 5: 2023 window [2018-01-19, 2023-01-19]; P07's first episode (2018-01-01..2019-06-01) and
    # P12's CLA (2018-04-01..2018-09-01) overlap it; P01 (closed 2017) no longer counts.
    frame = build_cohort(con, years=2023, lookback_years=5, treated="ever5_cwsw")
    got = _flags(frame, 2023, ["ever5_cwsw"])
    assert got["P01"] == (0,) and got["P12"] == (1,) and got["P10"] == (1,)


def test_dual_registration_keeps_the_main_one(con):
    got = _flags(build_cohort(con, years=2023), 2023, ["la", "school_id"])
    assert got["P15"] == (202, 2024001)  # M before S; tie between Ms -> lowest LAESTAB
    assert got["P16"] == (301, 3010001)  # C before M
    assert build_cohort(con, years=2023).filter(pl.col("pupil_id") == "P15").height == 1


def test_pupil_moving_la_links_by_pmr(con):
    got = _flags(build_cohort(con, years=2023), 2023, ["la", "ever6_cin"])
    assert got["P14"] == (201, 1)


def test_unlinked_rows_flag_nobody(con):
    # X01 (CIN) and K99 (CLA) carry no PMR: the cohort is exactly the census pupils, all linked.
    frame = build_cohort(con, years=2023)
    assert frame["pupil_id"].null_count() == 0
    assert sorted(frame["pupil_id"]) == [f"P{i:02d}" for i in range(1, 24)]


def test_ever6_fsm_recorded_and_derived(con):
    frame = build_cohort(con, years=[2022, 2023, 2024])
    cols = ["ever6_fsm", "ever6_fsm_recorded", "ever6_fsm_derived"]
    # P20: FSM at spring 2017 only. 2022 window (2016-01-20, 2022-01-20] holds it; 2023's
    # (2017-01-19, 2023-01-19] does not (half-open: exactly six years before is out).
    assert _flags(frame, 2022, cols)["P20"] == (1, None, 1)
    assert _flags(frame, 2023, cols)["P20"] == (0, None, 0)
    # P21: FSM at summer 2017 (2017-05-18): in 2023's window, not in 2024's (2018-01-18, ...].
    assert _flags(frame, 2023, cols)["P21"] == (1, None, 1)
    assert _flags(frame, 2024, cols)["P21"] == (0, None, 0)
    # P22: recorded EVERFSM_6 = 1 wins over a derived 0.
    assert _flags(frame, 2023, cols)["P22"] == (1, 1, 0)


def test_derived_ever6_fsm_equals_the_rule_on_a_full_history(con):
    # P23: FSM only at spring 2018; EVERFSM_6 was written by the rule (1 for 2018..2023).
    frame = build_cohort(con, years=range(2017, 2025)).filter(pl.col("pupil_id") == "P23").sort("census_year")
    assert frame["ever6_fsm_recorded"].to_list() == [0, 1, 1, 1, 1, 1, 1, 0]
    assert frame["ever6_fsm_derived"].to_list() == frame["ever6_fsm_recorded"].to_list()


def test_derived_ever6_fsm_over_more_than_one_block_of_census_years():
    # 2030..2091 spans 62 years: 2030 and 2031 are bits 0 and 1 of the 56-year block from 2030, 2090
    # and 2091 bits 4 and 5 of the block from 2086, each year decoded in its own pass.
    # Q1: FSM at spring 2031 only -> 2031 (its own census); 2030 is before it; 2090 and 2091 far after.
    # Q2: FSM at spring 2090 only -> 2090 and 2091 (within six years), not 2030 or 2031.
    years = (2030, 2031, 2090, 2091)
    rows = [census(p, y, FSMeligible=int((p, y) in {("Q1", 2031), ("Q2", 2090)})) for p in ("Q1", "Q2") for y in years]
    frame = build_cohort(connect(spring_census=rows), years=years).sort("pupil_id", "census_year")
    derived = {p: frame.filter(pl.col("pupil_id") == p)["ever6_fsm_derived"].to_list() for p in ("Q1", "Q2")}
    assert derived == {"Q1": [0, 1, 0, 0], "Q2": [0, 0, 1, 1]}


def test_social_care_flags_across_blocks_of_census_years():
    # 2017..2025: 2017-2023 are bytes 0-6 of the block from 2017, 2024 and 2025 bytes 0-1 of the
    # block from 2024. A CIN episode 2022-03-01 to 2024-06-01 starts after the 2022 census, covers
    # the 2023 and 2024 censuses (current) and is in the 2025 window, closed by then.
    years = range(2017, 2026)
    con = connect(spring_census=[census("S", y) for y in years], cin=[cin("S", "CS", 2024, "2022-03-01", "2024-06-01")])
    frame = build_cohort(con, years=years).sort("census_year")
    assert frame["ever6_cwsw"].to_list() == [0, 0, 0, 0, 0, 0, 1, 1, 1]
    assert frame["current_cwsw"].to_list() == [0, 0, 0, 0, 0, 0, 1, 1, 0]
