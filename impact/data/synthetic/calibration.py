"""Calibration of a generated extract against national figures, computed from the written files.

Every generated value is a DuckDB query on the parquet files (not the generator's arrays), so
the table checks what users get. Targets: ../shared/brief/npd-reference.md section 11.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

# social-care flags by docs/explanation/definitions.md, from linkable rows only
EVER6_SQL = """
WITH cin AS (
  SELECT * FROM read_parquet('{d}/cin.parquet') WHERE CIN_PupilMatchingRefAnonymous IS NOT NULL
  QUALIFY row_number() OVER (PARTITION BY CIN_LA, CIN_LAchildID_Anon, CIN_ReferralDate ORDER BY CIN_ACADYR DESC) = 1
), cla AS (
  SELECT * FROM read_parquet('{d}/cla_episodes.parquet')
  WHERE CLA_PupilMatchingRefAnonymous IS NOT NULL AND CLA_LS NOT IN ('V3', 'V4')
  QUALIFY row_number() OVER (PARTITION BY CLA_LA, CLA_CHILD_ID_Anon, CLA_DECOM ORDER BY CLA_ACADYR DESC) = 1
), iv AS (
  SELECT CIN_PupilMatchingRefAnonymous AS pmr, 'cin' AS kind, CIN_ReferralDate AS s, CIN_CINClosureDate AS e FROM cin
   WHERE CIN_ReferralNFA = 0 AND coalesce(CIN_ReasonForClosure, '') <> 'RC8'
  UNION ALL
  SELECT CIN_PupilMatchingRefAnonymous, 'cpp', CIN_CPPstartDate, CIN_CPPendDate FROM cin WHERE CIN_CPPstartDate IS NOT NULL
  UNION ALL
  SELECT CLA_PupilMatchingRefAnonymous, 'cla', CLA_DECOM, CLA_DEC FROM cla
), pupils AS (
  SELECT DISTINCT PupilMatchingRefAnonymous_SPR{yy} AS pmr, CensusDate_SPR{yy} AS c, EVERFSM_6_SPR{yy} AS everfsm6
  FROM read_parquet('{d}/spring_census_{y}.parquet')
)
SELECT p.pmr, max(p.everfsm6) AS ever6_fsm,
  coalesce(bool_or(iv.kind = 'cin'), false) AS ever6_cin,
  coalesce(bool_or(iv.kind = 'cpp'), false) AS ever6_cpp,
  coalesce(bool_or(iv.kind = 'cla'), false) AS ever6_cla,
  count(iv.kind) > 0 AS ever6_cwsw
FROM pupils p LEFT JOIN iv ON iv.pmr = p.pmr AND iv.s <= p.c AND coalesce(iv.e, p.c) >= p.c - INTERVAL 6 YEAR
GROUP BY p.pmr
"""


def ever6_flags(con: duckdb.DuckDBPyConnection, d: Path, year: int):
    """Per pupil on the spring census of `year`: ever6 FSM / CIN / CPP / CLA / CWSW."""
    return con.sql(EVER6_SQL.format(d=d, y=year, yy=f"{year % 100:02d}"))


def cohort_counts(d: Path, year: int) -> dict[str, int]:
    """Default VSH treated and comparison counts recomputed from the files."""
    con = duckdb.connect()
    r = ever6_flags(con, d, year).aggregate(
        "count(*) FILTER (ever6_cwsw AND NOT ever6_cla) AS treated, "
        "count(*) FILTER (ever6_fsm = 1 AND NOT ever6_cwsw) AS comparison, count(*) FILTER (ever6_cwsw) AS cwsw"
    ).fetchall()[0]
    return {"treated": r[0], "comparison": r[1], "ever6_cwsw": r[2]}


@dataclass(frozen=True)
class Row:
    quantity: str
    year: str
    target: float
    generated: float
    tolerance: float
    relative: bool = False
    known: str = ""  # a documented deviation by design: shown, not asserted

    @property
    def passed(self) -> bool:
        if self.relative:
            return abs(self.generated - self.target) <= self.tolerance * self.target
        return abs(self.generated - self.target) <= self.tolerance


_GROUPS_SQL = """
CREATE OR REPLACE TEMP TABLE sc31 AS
WITH cin AS (SELECT CIN_PupilMatchingRefAnonymous AS pmr,
                    bool_or(CIN_CINClosureDate IS NULL) AS cin31,
                    bool_or(CIN_CPPstartDate IS NOT NULL AND CIN_CPPendDate IS NULL) AS cpp31
             FROM read_parquet('{d}/cin.parquet') WHERE CIN_ACADYR = '{ay}' AND CIN_PupilMatchingRefAnonymous IS NOT NULL
             GROUP BY 1),
     cla AS (SELECT CLA_PupilMatchingRefAnonymous AS pmr, bool_or(CLA_DEC IS NULL) AS cla31,
                    bool_or(CLA_DEC IS NULL AND CLA_DECOM <= DATE '{y0}-03-31') AS cla12
             FROM read_parquet('{d}/cla_episodes.parquet') WHERE CLA_ACADYR = '{ay}' AND CLA_PupilMatchingRefAnonymous IS NOT NULL
             GROUP BY 1)
SELECT coalesce(cin.pmr, cla.pmr) AS pmr,
  CASE WHEN coalesce(cla.cla12, false) THEN 'CLA12'
       WHEN coalesce(cla.cla31, false) THEN 'CLA_short'
       WHEN coalesce(cin.cpp31, false) THEN 'CPPO'
       WHEN coalesce(cin.cin31, false) THEN 'CINO' END AS grp
FROM cin FULL JOIN cla ON cin.pmr = cla.pmr
"""

_PUPIL_SQL = """
CREATE OR REPLACE TEMP TABLE pup AS
WITH c AS (SELECT PupilMatchingRefAnonymous_SPR{yy} AS pmr, any_value(NCyearActual_SPR{yy}) FILTER (EnrolStatus_SPR{yy} <> 'S') AS ncy,
                  max(FSMeligible_SPR{yy}) AS fsm, max(SENprovision_SPR{yy}) AS sen
           FROM read_parquet('{d}/spring_census_{y}.parquet') GROUP BY 1),
     a AS (SELECT PupilMatchingRefAnonymous AS pmr,
                  sum(coalesce(SessionsPossible_Autumn,0) + coalesce(SessionsPossible_Spring,0) + coalesce(SessionsPossible_Summer,0) + coalesce(SessionsPossible_Summer6th,0)) AS poss,
                  sum(coalesce(OverallAbsence_Autumn,0) + coalesce(OverallAbsence_Spring,0) + coalesce(OverallAbsence_Summer,0) + coalesce(OverallAbsence_Summer6th,0)) AS ov,
                  sum(coalesce(UnauthorisedAbsence_Autumn,0) + coalesce(UnauthorisedAbsence_Spring,0) + coalesce(UnauthorisedAbsence_Summer,0) + coalesce(UnauthorisedAbsence_Summer6th,0)) AS un
           FROM read_parquet('{d}/absence_{y}.parquet') GROUP BY 1),
     x AS (SELECT PupilMatchingRefAnonymous AS pmr, count(*) FILTER (Category = 'FIXD') AS susp, count(*) FILTER (Category = 'PERM') AS perm
           FROM read_parquet('{d}/exclusions_{y}.parquet') GROUP BY 1)
SELECT c.*, a.poss, a.ov, a.un, coalesce(x.susp, 0) AS susp, coalesce(x.perm, 0) AS perm, s.grp
FROM c LEFT JOIN a USING (pmr) LEFT JOIN x USING (pmr) LEFT JOIN sc31 s USING (pmr)
"""

_ABS_TARGETS = {  # (overall, PA, severe) in %; None = not published / unverified
    ("all", 2019): (4.7, 10.9, None), ("all", 2022): (7.6, 22.5, 1.7),
    ("FSM", 2019): (7.5, None, None), ("FSM", 2022): (10.8, 37.2, None),
    ("CINO", 2019): (11.5, 33.3, 5.1), ("CINO", 2022): (16.2, 48.1, 8.4),
    ("CPPO", 2019): (13.9, 39.3, 7.3), ("CPPO", 2022): (19.4, 56.1, 11.2),
    ("CLA12", 2019): (5.1, 12.1, 2.3), ("CLA12", 2022): (7.8, 19.1, 3.9),
}
_GROUP_WHERE = {"all": "true", "FSM": "fsm = 1", "CINO": "grp = 'CINO'", "CPPO": "grp = 'CPPO'", "CLA12": "grp = 'CLA12'"}
# tolerances (pp): overall rate, PA, severe; wider for the small social care groups
_ABS_TOL = {"all": (1.0, 4.0, 1.0), "FSM": (1.5, 6.0, 2.0), "CINO": (1.5, 7.0, 3.0), "CPPO": (2.5, 9.0, 4.0),
            "CLA12": (2.5, 7.0, 3.0)}
_CPPO_RISE = ("CPPO: the real rise 2018/19 -> 2021/22 was +5.5 pp; with trends parallel given FSM x SEN the generated "
              "group (a few hundred pupils, SE about 1 pp) sits between the two years' targets")


def calibration_rows(d: Path, first: int, last: int) -> list[Row]:
    """All calibration rows that the written years allow."""
    d = Path(d)
    con = duckdb.connect()
    rows: list[Row] = []
    fsm_targets = {2018: 13.6, 2019: 15.4, 2020: 17.3, 2021: 20.8, 2022: 22.5, 2023: 23.8, 2024: 24.6}
    for y, t in fsm_targets.items():
        if first <= y <= last:
            v = con.execute(f"SELECT 100 * avg(f) FROM (SELECT max(FSMeligible_SPR{y % 100:02d}) f FROM "
                        f"read_parquet('{d}/spring_census_{y}.parquet') GROUP BY PupilMatchingRefAnonymous_SPR{y % 100:02d})").fetchall()[0][0]
            rows.append(Row("FSM-eligible, % of pupils", str(y), t, v, 1.0))
    for y in (2020, 2021):
        if first <= y <= last:
            r = ever6_flags(con, d, y).aggregate("100 * avg(ever6_cwsw::INT), 100 * avg(ever6_fsm) FILTER (ever6_cwsw)").fetchall()[0]
            rows.append(Row("Ever6 CWSW, % of pupils", str(y), 10.0, r[0], 2.0))
            rows.append(Row("Ever6 CWSW who are Ever6 FSM, %", str(y), 65.0, r[1], 7.0))
    for y, (cin_t, cpp_t, cla_t) in {2021: (388_490, 50_010, 80_780), 2023: (403_090, 50_780, 83_530)}.items():
        if not first <= y <= last:
            continue
        pupils_nat = 8_350_000 if y == 2021 else 8_400_000
        n = con.execute(f"SELECT count(DISTINCT PupilMatchingRefAnonymous_SPR{y % 100:02d}) FROM read_parquet('{d}/spring_census_{y}.parquet')").fetchall()[0][0]
        ay = f"{y - 1}/{y}"
        cin = con.execute(f"SELECT count(DISTINCT (CIN_LA, CIN_LAchildID_Anon)) FILTER (CIN_CINClosureDate IS NULL), "
                      f"count(DISTINCT (CIN_LA, CIN_LAchildID_Anon)) FILTER (CIN_CPPstartDate IS NOT NULL AND CIN_CPPendDate IS NULL) "
                      f"FROM read_parquet('{d}/cin.parquet') WHERE CIN_ACADYR = '{ay}'").fetchall()[0]
        cla = con.execute(f"SELECT count(DISTINCT (CLA_LA, CLA_CHILD_ID_Anon)) FROM read_parquet('{d}/cla_episodes.parquet') "
                      f"WHERE CLA_ACADYR = '{ay}' AND CLA_DEC IS NULL").fetchall()[0][0]
        for name, nat, gen in (("CIN", cin_t, cin[0]), ("CPP", cpp_t, cin[1]), ("CLA", cla_t, cla)):
            rows.append(Row(f"{name} at 31 March per 10,000 pupils on roll", str(y), 1e4 * nat / pupils_nat,
                            1e4 * gen / n, 0.15, relative=True))
    for y in (2019, 2022, 2023, 2020, 2021):
        if not first <= y <= last:
            continue
        con.execute(_GROUPS_SQL.format(d=d, ay=f"{y - 1}/{y}", y0=y - 1))
        con.execute(_PUPIL_SQL.format(d=d, y=y, yy=f"{y % 100:02d}"))
        base = "FROM pup WHERE ncy IN ('1','2','3','4','5','6','7','8','9','10','11') AND poss > 0"
        for grp in ("all", "FSM", "CINO", "CPPO", "CLA12"):
            t = _ABS_TARGETS.get((grp, y))
            if t is None:
                continue
            r = con.execute(f"SELECT 100 * sum(ov) / sum(poss), 100 * avg((ov / poss >= 0.10)::INT), "
                        f"100 * avg((ov / poss >= 0.50)::INT) {base} AND {_GROUP_WHERE[grp]}").fetchall()[0]
            for k, what in enumerate(("overall absence rate, %", "persistent absence, % of pupils", "severe absence, % of pupils")):
                if t[k] is not None:
                    known = _CPPO_RISE if grp == "CPPO" else ""
                    rows.append(Row(f"{grp} {what}", f"{y - 1}/{y % 100:02d}", t[k], r[k], _ABS_TOL[grp][k], known=known))
        if y == 2022:
            r = con.execute("SELECT 100 * avg((susp > 0)::INT), 100 * avg((perm > 0)::INT) FROM pup").fetchall()[0]
            rows.append(Row("suspension (1+), % of pupils", "2021/22", 3.13, r[0], 0.7))
            rows.append(Row("permanent exclusion, % of pupils", "2021/22", 0.08, r[1], 0.04))
        if y == 2021:
            r = con.execute("SELECT 100 * avg((susp > 0)::INT) FROM pup WHERE grp = 'CINO'").fetchall()[0]
            rows.append(Row("CINO suspension (1+), % of pupils", "2020/21", 8.73, r[0], 2.5))
            r = con.execute("SELECT 100 * avg((sen IN ('K','E'))::INT), 100 * avg(fsm) FROM pup WHERE grp IS NOT NULL AND grp <> 'CLA_short' OR grp = 'CLA_short'").fetchall()[0]
            rows.append(Row("CIN at 31 March with SEN, %", "2020/21", 48.0, r[0], 7.0))
            rows.append(Row("CIN at 31 March FSM-eligible, %", "2020/21", 57.0, r[1], 7.0))
        if y == 2023:
            r = con.execute("SELECT 100 * avg((sen = 'K')::INT), 100 * avg((sen = 'E')::INT) FROM pup").fetchall()[0]
            rows.append(Row("SEN support (K), % of pupils", "2023", 13.0, r[0], 1.0))
            rows.append(Row("EHC plan (E), % of pupils", "2023", 4.3, r[1], 0.7))
    rows += _ks4_rows(con, d, first, last)
    return rows


def _ks4_rows(con, d: Path, first: int, last: int) -> list[Row]:
    rows: list[Row] = []
    a8 = {2019: (46.7, 36.7, 64.6, 44.7, 40.0), 2022: (48.8, None, 68.8, None, 38.7), 2023: (46.2, None, 64.8, 43.1, 39.3)}
    for y, (a_all, a_dis, em_all, em_dis, eb) in a8.items():
        if not first <= y <= last:
            continue
        r = con.execute(f"SELECT avg(KS4_ATT8), avg(KS4_ATT8) FILTER (KS4_FSM6 = 1), 100 * avg(KS4_L2BASICS_94), "
                    f"100 * avg(KS4_L2BASICS_94) FILTER (KS4_FSM6 = 1), 100 * avg(KS4_EBACC_E_PTQ_EE), 100 * avg(KS4_FSM6) "
                    f"FROM read_parquet('{d}/ks4.parquet') WHERE KS4_ACADYR = '{y - 1}/{y}'").fetchall()[0]
        rows.append(Row("A8, all pupils", str(y), a_all, r[0], 2.0))
        if y == 2019:
            rows.append(Row("disadvantaged (KS4_FSM6), % of KS4 cohort", str(y), 26.5, r[5], 3.0))
        if a_dis is not None:
            rows.append(Row("A8, disadvantaged (KS4_FSM6)", str(y), a_dis, r[1], 2.0))
        rows.append(Row("English & maths 9-4, % all pupils", str(y), em_all, r[2], 1.5))
        if em_dis is not None:
            rows.append(Row("English & maths 9-4, % disadvantaged (KS4_FSM6)", str(y), em_dis, r[3], 4.0))
        rows.append(Row("EBacc entry, % all pupils", str(y), eb, r[4], 3.0))
    # social care groups at 31 March of the KS4 year, pooled over the written KS4 years (small groups):
    # targets are gaps to all pupils (2019 and 2022 averaged: the gaps are stable across years)
    years = [y for y in range(first, last + 1)]
    parts = []
    for y in years:
        con.execute(_GROUPS_SQL.format(d=d, ay=f"{y - 1}/{y}", y0=y - 1))
        parts.append(con.sql(f"SELECT k.KS4_ATT8 AS a8, k.KS4_L2BASICS_94 AS em, k.KS4_EBACC_E_PTQ_EE AS eb, s.grp, "
                             f"avg(k.KS4_ATT8) OVER () AS a8_all, avg(k.KS4_L2BASICS_94) OVER () AS em_all "
                             f"FROM read_parquet('{d}/ks4.parquet') k LEFT JOIN sc31 s ON s.pmr = k.KS4_PupilMatchingRefAnonymous "
                             f"WHERE KS4_ACADYR = '{y - 1}/{y}'").to_arrow_table())
    con.register("k4", pa.concat_tables(parts))
    gaps = {"CINO": (27.7, 44.8, 2.5, 9.0), "CPPO": (27.9, 46.7, 4.0, 12.0), "CLA12": (28.1, 47.2, 4.0, 12.0)}
    span = f"{first}-{last}"
    for g, (ga8, gem, tol_a8, tol_em) in gaps.items():
        r = con.execute(f"SELECT avg(a8_all - a8), 100 * avg(em_all - em) FROM k4 WHERE grp = '{g}'").fetchall()[0]
        rows.append(Row(f"A8 gap, all pupils minus {g}", span, ga8, r[0], tol_a8))
        rows.append(Row(f"English & maths 9-4 gap (pp), all minus {g}", span, gem, r[1], tol_em))
    r = con.execute("SELECT 100 * avg(eb) FROM k4 WHERE grp IN ('CINO', 'CPPO', 'CLA12')").fetchall()[0]
    rows.append(Row("EBacc entry, % CINO+CPPO+CLA12", span, 11.5, r[0], 4.0))
    return rows


def markdown(rows: list[Row], header: str) -> str:
    lines = [header, "", "| quantity | year | target | generated | tolerance | pass |", "|---|---|---|---|---|---|"]
    for r in rows:
        tol = f"±{100 * r.tolerance:.0f}% rel." if r.relative else f"±{r.tolerance:g}"
        verdict = "yes" if r.passed else ("no (known deviation, see below)" if r.known else "NO")
        lines.append(f"| {r.quantity} | {r.year} | {r.target:.1f} | {r.generated:.1f} | {tol} | {verdict} |")
    return "\n".join(lines) + "\n"
