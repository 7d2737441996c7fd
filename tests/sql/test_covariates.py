"""Baseline covariates and LA bands, worked by hand."""
from __future__ import annotations

import duckdb
import pytest

from impact import cohorts, sql
from impact.cohorts import covariates

from .extracts import census, cin, connect, year_label


def test_la_bands_at_their_boundaries():
    # Stub flag table: per LA, `cwsw` pupils flagged out of `pupils`.
    # 201: 4000 / 100000 -> 400.0 per 10k: small, small (boundaries fall in the lower band)
    # 202: 4001 / 100025 -> 400.0 per 10k: medium by number, small by rate
    # 203: 9000 / 112500 -> 800.0: medium, medium
    # 204: 9001 / 112500 -> 800.09: large, large
    # 205: 401 / 10000 -> 401.0: small by number, medium by rate
    con = duckdb.connect()
    con.execute("CREATE TABLE spec (la INTEGER, cwsw INTEGER, pupils INTEGER)")
    con.executemany("INSERT INTO spec VALUES (?, ?, ?)",
                    [(201, 4000, 100000), (202, 4001, 100025), (203, 9000, 112500), (204, 9001, 112500), (205, 401, 10000)])
    # The stored grid: a CPP (flag bit 4) makes a pupil CWSW.
    con.execute(
        "CREATE TEMP TABLE flag_grid AS "
        "SELECT CAST(r.range AS VARCHAR) AS pupil_id, 2023 AS census_year, DATE '2023-01-19' AS census_date, s.la, "
        "NULL AS school_id, NULL AS nc_year, 0 AS ever6_fsm_recorded, NULL AS fsm_eligible, NULL AS sen_provision, "
        "CASE WHEN r.range < s.cwsw THEN 4 ELSE 0 END AS flags, NULL AS sessions_possible, NULL AS overall_absence, "
        "NULL AS authorised_absence, NULL AS unauthorised_absence "
        "FROM spec AS s, range(0, 112500) AS r WHERE r.range < s.pupils"
    )
    # Pupils on roll are counted from the main registrations (the stored grid may hold only the
    # pupil-years that can be treated or comparison): the same pupils (ids made unique across LAs),
    # one enrolment each.
    con.execute("CREATE TEMP VIEW stg_census_enrolment AS "
                "SELECT * REPLACE (CAST(la AS VARCHAR) || '-' || pupil_id AS pupil_id), census_year AS academic_year, '2022' AS label_start, "
                "1 AS registration_rank, 'C' AS enrol_status, NULL AS year_group, NULL AS month_of_birth, "
                "NULL AS year_of_birth, NULL AS sex, NULL AS ethnicity_major, NULL AS first_language, "
                "NULL AS everfsm_6, NULL AS idaci_score FROM flag_grid")
    params = cohorts.CohortOptions.checked("test", years=[2023]).sql_params(["cov_la_bands"], own=True)
    got = {r[0]: r[1:] for r in sql.run_query(con, "cov_la_bands", params).sort("la").iter_rows()}
    assert got[201][:2] == (4000, 100000) and got[201][2] == pytest.approx(400.0) and got[201][3:] == ("small", "small")
    assert got[202][3:] == ("medium", "small")
    assert got[203][3:] == ("medium", "medium")
    assert got[204][3:] == ("large", "large")
    assert got[205][3:] == ("small", "medium")


def test_ks2_scores_come_from_the_latest_ks2_year():
    def ks2(pmr, year, read, maths):
        return {"KS2_PupilMatchingRefAnonymous": pmr, "KS2_ACADYR": year_label(year), "KS2_READSCORE": read,
                "KS2_MATSCORE": maths}

    con = connect(ks2=[
        # A resat: the 2017 record's scores, its missing reading score included
        ks2("A", 2016, 90, 95), ks2("A", 2017, None, 100),
        # B has two records in its latest year (a duplicate): each score the highest recorded that
        # year, null only where both are; its older, higher scores are not used
        ks2("B", 2018, 100, None), ks2("B", 2018, 95, None), ks2("B", 2015, 120, 120),
        # C: the extreme INTEGER scores survive the packing unchanged
        ks2("C", 2019, -2147483648, 2147483647),
    ])
    got = {r[0]: r[1:] for r in sql.run_query(con, "stg_ks2").iter_rows()}
    assert got == {"A": (2017, None, 100), "B": (2018, 100, None), "C": (2019, -2147483648, 2147483647)}


def test_baseline_covariates():
    def ks2(pmr, read, maths):
        return {"KS2_PupilMatchingRefAnonymous": pmr, "KS2_ACADYR": "2016/2017", "KS2_READSCORE": read,
                "KS2_MATSCORE": maths, "KS2_READEXP": 1, "KS2_MATEXP": 1}

    con = connect(
        spring_census=[
            census("A", 2020, Gender="G", SENprovision="S", FirstLanguage="OTB", IDACIScore_15=0.9, MonthOfBirth=9, NCyearActual="9",
                   FSMeligible=1),
            census("B", 2020, Gender="M", SENprovision="A", FirstLanguage="ENG", IDACIScore_15=0.1),
            census("C", 2020, Gender="F", SENprovision="N", FirstLanguage="UNCL", IDACIScore_15=None),
            # FSM history of A: spring 2014 is six years before the 2020 baseline (outside), 2015 and 2018
            # inside; B eligible only after the baseline
            census("A", 2014, FSMeligible=1), census("A", 2015, FSMeligible=1), census("A", 2016, FSMeligible=0),
            census("A", 2018, FSMeligible=1), census("B", 2021, FSMeligible=1),
        ],
        autumn_census=[census("A", 2017, FSMeligible=1)],  # an autumn census is not a spring census
        ks2=[ks2("A", 105, None), ks2("B", 98, 101)],
        absence=[{"PupilMatchingRefAnonymous": "A", "AcademicYear": year_label(2019), "LA": 201, "LAESTAB": 2012001,
                  "SessionsPossible_Autumn": 200, "OverallAbsence_Autumn": 30, "AuthorisedAbsence_Autumn": 30,
                  "UnauthorisedAbsence_Autumn": 0}],
        cin=[cin("A", "CA", 2019, "2019-01-01")],
    )
    got = {r["pupil_id"]: r for r in covariates(con, years=[2020, 2021]).iter_rows(named=True)}
    a, b, c = got["A"], got["B"], got["C"]
    assert (a["baseline_year"], a["sex"], a["sen_provision"], a["eal"], a["month_of_birth"], a["year_group"]) == (2020, "F", "E", 1, 9, "9")
    assert (b["sex"], b["sen_provision"], b["eal"]) == ("M", "K", 0) and c["eal"] is None
    # IDACI: two scored pupils; cume_dist over descending score: A 0.5 -> decile 5, B 1.0 -> decile 10
    assert (a["idaci_decile"], b["idaci_decile"], c["idaci_decile"]) == (5, 10, None)
    assert (a["ks2_read_score"], a["ks2_read_missing"], a["ks2_mat_score"], a["ks2_mat_missing"]) == (105, 0, None, 1)
    assert (c["ks2_read_missing"], c["ks2_mat_missing"]) == (1, 1)
    assert a["prior_absence_rate"] == pytest.approx(30 / 200) and a["prior_absence_missing"] == 0
    assert b["prior_absence_rate"] is None and b["prior_absence_missing"] == 1
    assert (a["fsm_history_years"], b["fsm_history_years"], c["fsm_history_years"]) == (3, 0, 0)
    # LA 201 at 2020: 1 CWSW (A) of 3 pupils -> rate 3333.3 per 10k: small by number, large by rate
    assert (a["la_cwsw_count"], a["la_band_number"], a["la_band_rate"]) == (1, "small", "large")
    assert a["la_cwsw_rate"] == pytest.approx(10000 / 3)
