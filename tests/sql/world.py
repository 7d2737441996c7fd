"""The hand-made extract used by the flag and cohort tests, with every date worked by hand.

Spring census dates (no CensusDate recorded, so the rule: third Thursday of January):
  2022-01-20 (1 Jan 2022 is a Saturday), 2023-01-19 (Sunday), 2024-01-18 (Monday), 2017-01-19.
Summer 2017: third Thursday of May = 2017-05-18 (1 May 2017 is a Monday).
Six-year windows [c - 6y, c]: 2023 -> [2017-01-19, 2023-01-19]; 2024 -> [2018-01-18, 2024-01-18].
"""
from __future__ import annotations

from .extracts import census, cin, cla, connect

PUPILS = [f"P{i:02d}" for i in range(1, 24)]
SPECIAL_CENSUS = {"P15", "P16", "P23"}


def census_rows() -> list[dict]:
    rows = [census(p, y) for p in PUPILS if p not in SPECIAL_CENSUS for y in (2022, 2023, 2024)]
    # P15 dual registration: S in LA 201, two M rows in LA 202 -> M with the lowest LAESTAB (2024001).
    rows += [census("P15", 2023, EnrolStatus="S", LA=201, LAESTAB=2013001),
             census("P15", 2023, EnrolStatus="M", LA=202, LAESTAB=2024002),
             census("P15", 2023, EnrolStatus="M", LA=202, LAESTAB=2024001)]
    # P16: C beats M even with a higher LAESTAB -> 3010001 in LA 301.
    rows += [census("P16", 2023, EnrolStatus="M", LA=201, LAESTAB=2010001),
             census("P16", 2023, EnrolStatus="C", LA=301, LAESTAB=3010001)]
    # P20: FSM only at spring 2017 (2017-01-19 = c(2023) - 6y, outside the half-open FSM window).
    rows += [census("P20", 2017, FSMeligible=1)]
    # P22: EVERFSM_6 recorded at 2023 with no FSM history.
    rows = [dict(r, EVERFSM_6=1) if (r["PupilMatchingRefAnonymous"], r["AcademicYear"]) == ("P22", "2022/2023") else r
            for r in rows]
    # P23: full spring history 2017-2024, FSM only in 2018; EVERFSM_6 by the rule (springs Y-5..Y).
    everfsm = {2017: 0, 2018: 1, 2019: 1, 2020: 1, 2021: 1, 2022: 1, 2023: 1, 2024: 0}
    rows += [census("P23", y, FSMeligible=int(y == 2018), EVERFSM_6=e) for y, e in everfsm.items()]
    return rows


def summer_rows() -> list[dict]:
    # P21: FSM only at summer 2017 (2017-05-18): inside (2017-01-19, 2023-01-19], outside 2024's window.
    return [census("P21", 2017, FSMeligible=1)]


def cin_rows() -> list[dict]:
    return [
        cin("P01", "C01", 2017, "2016-05-01", "2017-01-19"),  # closes on c(2023) - 6y: counts
        cin("P02", "C02", 2017, "2016-05-01", "2017-01-18"),  # closes the day before: does not
        cin("P03", "C03", 2023, "2022-10-01"),  # open at the census
        cin("P04", "C04", 2023, "2023-01-19", "2023-03-01"),  # starts on the census date
        cin("P05", "C05", 2023, "2023-01-20"),  # starts the day after the 2023 census
        # P06: repeated in two returns; the later return closes it -> not current at 2023.
        cin("P06", "C06", 2022, "2021-06-01"),
        cin("P06", "C06", 2023, "2021-06-01", "2022-06-30"),
        # P07: overlapping episodes
        cin("P07", "C07", 2023, "2018-01-01", "2019-06-01"),
        cin("P07", "C07", 2023, "2019-01-01"),
        cin("P08", "C08", 2020, "2020-03-01", "2020-03-02", CIN_ReferralNFA=1),  # NFA
        cin("P09", "C09", 2020, "2020-03-01", "2020-05-01", CIN_ReasonForClosure="RC8"),  # not in need
        cin("P10", "C10", 2019, "2019-01-01", "2019-12-31", CIN_CPPstartDate="2019-02-01", CIN_CPPendDate="2019-11-01"),
        # P11: CPP starts after the 2023 census (2024 return closes the plan)
        cin("P11", "C11", 2023, "2022-09-01", CIN_CPPstartDate="2023-02-01"),
        cin("P11", "C11", 2024, "2022-09-01", CIN_CPPstartDate="2023-02-01", CIN_CPPendDate="2023-12-01"),
        cin("P14", "C14", 2020, "2020-01-01", "2020-02-01", CIN_LA=202),  # social care in another LA
        cin("P17", "C17", 2019, "2019-01-01", "2019-06-01"),  # episode, no CIN plan
        cin("P18", "C18", 2021, "2020-01-01", "2020-09-01",
            CIN_CINPlanStartDate="2020-02-01", CIN_CINPlanEndDate="2020-06-01"),
        # P19: the later return lost the PMR; the episode still links through the earlier return
        cin("P19", "C19", 2022, "2021-01-01"),
        cin(None, "C19", 2023, "2021-01-01", "2021-08-01"),
        cin(None, "X01", 2023, "2022-05-01"),  # never linkable
    ]


def cla_rows() -> list[dict]:
    return [
        cla("P12", "K12", 2019, "2018-04-01", "2018-09-01"),  # CLA only
        cla("P13", "K13", 2021, "2021-01-01", "2021-01-03", CLA_LS="V3"),  # short break
        cla(None, "K99", 2023, "2022-04-01"),  # no PMR
    ]


def world():
    return connect(spring_census=census_rows(), summer_census=summer_rows(), cin=cin_rows(), cla_episodes=cla_rows())
