"""Attendance, exclusions, KS4 and post-16 outcomes on tiny extracts, each value worked by hand."""
from __future__ import annotations

import pytest

from impact.cohorts import attendance_panel, ks4_cohort, post16_panel

from .extracts import census, connect, year_label


def absence(pmr, year, laestab=2012001, **terms):
    row = {"PupilMatchingRefAnonymous": pmr, "AcademicYear": year_label(year), "LA": 201, "LAESTAB": laestab}
    for term, (possible, authorised, unauthorised) in terms.items():
        row.update({
            f"SessionsPossible_{term}": possible, f"AuthorisedAbsence_{term}": authorised,
            f"UnauthorisedAbsence_{term}": unauthorised, f"OverallAbsence_{term}": authorised + unauthorised,
        })
    return row


def exclusion(pmr, year, category, sessions, start):
    return {"PupilMatchingRefAnonymous": pmr, "AcademicYear": year_label(year), "LA": 201, "LAESTAB": 2012001,
            "Category": category, "Sessions": sessions, "StartDate": start}


@pytest.fixture(scope="module")
def panel():
    years = (2019, 2020, 2021)
    con = connect(
        # each pupil moves up one NC year a year: Year 9 in 2019, 10 in 2020, 11 in 2021
        spring_census=[census(p, y, EVERFSM_6=1, NCyearActual=str(y - 2010)) for p in ("A", "B", "C", "D") for y in years],
        absence=[
            # A 2019: two enrolments, 200 + 150 = 350 possible, 20 + 15 = 35 missed -> exactly 10%
            absence("A", 2019, Autumn=(100, 10, 0), Spring=(100, 5, 5)),
            absence("A", 2019, laestab=2012002, Summer=(150, 5, 10)),
            # B 2020: autumn only (spring/summer null): 140 possible, 70 missed -> 50%, partial year
            absence("B", 2020, Autumn=(140, 40, 30)),
            # C 2021: 300 possible, 29 missed -> 9.67%: not persistent; code X year
            absence("C", 2021, Autumn=(100, 9, 0), Spring=(100, 10, 0), Summer=(100, 10, 0)),
            # D 2019: 430 possible -> dropped (> 420); D 2020: summer 6th half-term counted: 150 + 60 = 210, 21 missed
            absence("D", 2019, Autumn=(150, 0, 0), Spring=(140, 0, 0), Summer=(140, 0, 0)),
            absence("D", 2020, Autumn=(150, 15, 0), Summer6th=(60, 0, 6)),
        ],
        exclusions=[
            exclusion("A", 2019, "FIXD", 2.0, "2018-11-01"),
            exclusion("A", 2019, "FIXD", 3.5, "2019-02-01"),
            exclusion("A", 2019, "LNCH", 1.0, "2019-03-01"),  # lunchtime: not a suspension
            exclusion("A", 2019, "PERM", None, "2019-05-01"),
            exclusion("B", 2020, "FIXD", 1.0, "2019-10-01"),
        ],
    )
    frame = attendance_panel(con, years=years)
    con.close()
    return {(r["pupil_id"], r["academic_year"]): r for r in frame.iter_rows(named=True)}


def test_enrolments_summed_and_rates(panel):
    a = panel[("A", 2019)]
    assert (a["sessions_possible"], a["overall_absence"], a["authorised_absence"], a["unauthorised_absence"]) == (350, 35, 20, 15)
    assert a["overall_absence_rate"] == pytest.approx(0.1, rel=1e-12)
    assert a["authorised_absence_rate"] == pytest.approx(20 / 350, rel=1e-12)
    assert a["unauthorised_absence_rate"] == pytest.approx(15 / 350, rel=1e-12)
    assert (a["persistent_absence"], a["severe_absence"]) == (1, 0)  # exactly 10% is persistent


def test_panel_carries_the_nc_year_of_each_census(panel):
    assert [panel[("A", y)]["nc_year"] for y in (2019, 2020, 2021)] == ["9", "10", "11"]


def test_panel_carries_current_fsm_and_sen_of_the_main_spring_registration():
    con = connect(
        spring_census=[
            census("E", 2019, EVERFSM_6=1, FSMeligible=1, SENprovision="K"),
            # 2020: the main (C) registration says not FSM, legacy SEN code S (-> E); the subsidiary
            # registration's FSM 1 / SEN N must not be taken
            census("E", 2020, EVERFSM_6=1, FSMeligible=0, SENprovision="S"),
            census("E", 2020, EVERFSM_6=1, FSMeligible=1, SENprovision="N", EnrolStatus="S", LAESTAB=2012009),
        ],
        # FSM at the autumn census makes no difference to the spring census's current-year value
        autumn_census=[census("E", 2020, FSMeligible=1)],
    )
    frame = attendance_panel(con, years=[2019, 2020])
    con.close()
    got = {r["academic_year"]: (r["school_id"], r["fsm_eligible"], r["sen_provision"]) for r in frame.iter_rows(named=True)}
    assert got == {2019: (2012001, 1, "K"), 2020: (2012001, 0, "E")}


def test_covid_years_flagged(panel):
    b = panel[("B", 2020)]
    assert (b["sessions_possible"], b["overall_absence"], b["severe_absence"], b["partial_year"], b["code_x_year"]) == (140, 70, 1, 1, 0)
    c = panel[("C", 2021)]
    assert (c["persistent_absence"], c["partial_year"], c["code_x_year"]) == (0, 0, 1)
    assert panel[("A", 2019)]["partial_year"] == 0 and panel[("A", 2019)]["code_x_year"] == 0


def test_over_420_dropped_and_summer6th_counted(panel):
    assert panel[("D", 2019)]["sessions_possible"] is None  # pupil-year dropped: no absence measures
    d = panel[("D", 2020)]
    assert (d["sessions_possible"], d["overall_absence"], d["unauthorised_absence"]) == (210, 21, 6)
    assert d["persistent_absence"] == 1  # 21 / 210 = 10%


def test_suspensions_and_permanent_exclusions(panel):
    a = panel[("A", 2019)]
    assert (a["any_suspension"], a["suspensions"], a["suspension_sessions"], a["permanent_exclusion"]) == (1, 2, 5.5, 1)
    # C 2019: no exclusion in a year the extract covers -> zeros
    c = panel[("C", 2019)]
    assert (c["any_suspension"], c["suspensions"], c["suspension_sessions"], c["permanent_exclusion"]) == (0, 0, 0.0, 0)
    # 2021: no exclusion rows at all in the extract -> not covered -> null
    assert panel[("A", 2021)]["suspensions"] is None


def test_ks4_grading_regime_and_p8():
    years = (2019, 2020, 2021, 2022, 2023, 2025)
    con = connect(
        spring_census=[census(f"K{y}", y, EVERFSM_6=1) for y in years],
        ks4=[{"KS4_PupilMatchingRefAnonymous": f"K{y}", "KS4_ACADYR": year_label(y), "KS4_LA": 201,
              "KS4_ATT8": 40.0, "KS4_P8SCORE": -0.5, "KS4_L2BASICS_94": 1, "KS4_L2BASICS_95": 0,
              "KS4_EBACC_E_PTQ_EE": 1} for y in years],
    )
    frame = ks4_cohort(con, years=years).sort("ks4_year")
    assert frame["grading_regime"].to_list() == ["exam", "cag", "tag", "transition", "exam", "exam"]
    assert frame["p8"].to_list() == [-0.5, None, None, -0.5, -0.5, None]  # unpublished 2020, 2021, 2025
    assert frame["cohort"].to_list() == ["comparison"] * 6
    assert frame.select(["att8", "em94", "em95", "ebacc_entry"]).row(0) == (40.0, 1, 0, 1)


def test_post16_activity_and_pilot_waves():
    def leaver(child, la, year, age, activity, in_touch="YES"):
        return {"CLA_PupilMatchingRefAnonymous": None, "CLA_CHILD_ID_Anon": child, "CLA_LA": la,
                "CLA_ACADYR": year_label(year), "CLA_AGE": age, "CLA_IN_TOUCH": in_touch, "CLA_ACTIV": activity}

    con = connect(
        care_leavers=[leaver("a", 201, 2022, 17, "F1"), leaver("b", 202, 2022, 18, "G4"),
                      leaver("b", 202, 2023, 19, "G4"), leaver("c", 203, 2023, 17, None, "NO"),
                      leaver("d", 202, 2023, 17, "P2")],
        pp_plus_pilot=[{"LA": 201, "FirstYear": "2021/2022"}, {"LA": 202, "FirstYear": "2022/2023"}],
    )
    frame = post16_panel(con, years=[2022, 2023]).sort(["child_id", "collection_year"])
    # age 19 row dropped; F*/P* -> EET 1, G* -> 0, no activity -> null
    assert frame.select(["child_id", "age", "eet", "pilot_first_year", "pilot_wave", "in_pilot"]).rows() == [
        ("a", 17, 1, 2022, 1, 1),
        ("b", 18, 0, 2023, 2, 0),  # LA 202 joined in 2022/23; this 2021/22 row is before it
        ("c", 17, None, None, None, 0),  # LA 203 not in the pilot
        ("d", 17, 1, 2023, 2, 1),
    ]
