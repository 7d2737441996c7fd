"""The social care, care leaver and lookup tables, written after the year loop."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from ..contracts import CARE_LEAVER_ACTIVITY, CARE_LEAVER_IN_TOUCH
from . import writer as w
from .config import PlantedEffects
from .dates import academic_year_label, birthday, collection_year, day
from .population import Geography, People, token
from .social_care import LEGAL_STATUS, NO_DATE, PLACEMENTS, REASON_ENDED, Episodes, linked
from .truth import Truth


def _rows(start: np.ndarray, end: np.ndarray, first: int, last: int) -> tuple[np.ndarray, np.ndarray]:
    """(interval index, collection year) for every collection year in [first, last] an interval is open in."""
    y0 = np.maximum(collection_year(start), first).astype(np.int64)
    y1 = np.minimum(collection_year(np.minimum(end, day(last, 3, 31))), last).astype(np.int64)
    k = np.maximum(y1 - y0 + 1, 0)
    idx = np.repeat(np.arange(start.size), k)
    yr = y0[idx] + np.arange(idx.size) - np.repeat(np.cumsum(k) - k, k)
    order = np.lexsort((idx, yr))
    return idx[order], yr[order].astype(np.int16)


def _shown(d: np.ndarray, year: np.ndarray) -> np.ndarray:
    """Mask of dates NOT yet known at the end of the collection year (written as null)."""
    return (d == NO_DATE) | (d > np.array([day(int(y), 3, 31) for y in range(1990, 2040)])[year - 1990])


def _acadyr(year: np.ndarray) -> pa.Array:
    labels = [academic_year_label(y) for y in range(1990, 2040)]
    return w.codes(year.astype(np.int64) - 1990, labels)


def write_cin(path: Path, ep: Episodes, people: People, geo: Geography, first: int, last: int, pmr, salt: int) -> int:
    """One row per CIN episode per collection year it is open in; closure etc. only once known."""
    rows, years = _rows(ep.ref, ep.close, first, last)

    def build(r: slice) -> dict:
        i, yr = rows[r], years[r]
        child = ep.child[i]
        closed_later = _shown(ep.close[i], yr)
        return {
            "CIN_PupilMatchingRefAnonymous": w.strings(pmr(child), ~linked(ep, people, yr, i)),
            "CIN_LAchildID_Anon": w.strings(token(child.astype(np.int64) * 256 + ep.la[i], salt, 12)),
            "CIN_LA": w.ints(geo.la_code[ep.la[i]], pa.int16()),
            "CIN_ACADYR": _acadyr(yr),
            "CIN_Gender": w.ints(people.sex[child], pa.int8()),
            "CIN_ReferralDate": w.dates(ep.ref[i]),
            "CIN_ReferralNFA": w.ints(ep.nfa[i].astype(np.int8), pa.int8()),
            "CIN_PrimaryNeedCode": w.codes(ep.need[i], [f"N{k}" for k in range(10)]),
            "CIN_CINClosureDate": w.dates(ep.close[i], closed_later),
            "CIN_ReasonForClosure": w.codes(ep.reason[i] - 1, [f"RC{k}" for k in range(1, 9)], closed_later),
            "CIN_CPPstartDate": w.dates(ep.cpp_start[i], _shown(ep.cpp_start[i], yr)),
            "CIN_CPPendDate": w.dates(ep.cpp_end[i], _shown(ep.cpp_end[i], yr)),
            "CIN_CINPlanStartDate": w.dates(ep.plan_start[i], _shown(ep.plan_start[i], yr)),
            "CIN_CINPlanEndDate": w.dates(ep.plan_end[i], _shown(ep.plan_end[i], yr)),
        }

    return w.write_chunked(path, rows.size, build)


def write_cla(path: Path, ep: Episodes, people: People, geo: Geography, first: int, last: int, pmr, salt: int) -> int:
    """One row per episode of care per collection year it is open in."""
    has = np.flatnonzero(ep.decom != NO_DATE)
    j, yr = _rows(ep.decom[has], ep.dec[has], first, last)
    i = has[j]
    child = ep.child[i]
    ended_later = _shown(ep.dec[i], yr)
    cols = {
        "CLA_PupilMatchingRefAnonymous": w.strings(pmr(child), ~linked(ep, people, yr, i)),
        "CLA_CHILD_ID_Anon": w.strings(token(child.astype(np.int64) * 256 + ep.la[i], salt, 12)),
        "CLA_LA": w.ints(geo.la_code[ep.la[i]], pa.int16()),
        "CLA_ACADYR": _acadyr(yr),
        "CLA_SEX": w.ints(people.sex[child], pa.int8()),
        "CLA_POC_START": w.dates(ep.decom[i]),
        "CLA_DECOM": w.dates(ep.decom[i]),
        "CLA_DEC": w.dates(ep.dec[i], ended_later),
        "CLA_RNE": w.codes(np.zeros(i.size, dtype=np.int8), ("S",)),
        "CLA_LS": w.codes(ep.ls[i], LEGAL_STATUS),
        "CLA_PLACE": w.codes(ep.place[i], PLACEMENTS),
        "CLA_REC": w.codes(ep.rec[i], REASON_ENDED, ended_later),
    }
    return w.write(path, cols)


def write_care_leavers(path: Path, rng: np.random.Generator, ep: Episodes, people: People, geo: Geography,
                       first: int, last: int, pmr, salt: int, effects: PlantedEffects, truth: Truth) -> int:
    """Activity at the 17th-21st birthdays of young people looked after on or after their 16th birthday.

    EET probabilities are coupled by one uniform per row, so the PP+ pilot effect (rows at ages
    17-18 in a pilot LA from its first pilot year) is a realised sample ATT.
    """
    has = np.flatnonzero(ep.decom != NO_DATE)
    late = has[ep.dec[has] >= birthday(people.dob[ep.child[has]], 16)]
    order = np.lexsort((ep.decom[late], ep.child[late]))
    late = late[order]
    keep = np.r_[ep.child[late][1:] != ep.child[late][:-1], True] if late.size else np.zeros(0, bool)
    leaver = late[keep]  # the last period of care of each young person
    ages = np.arange(17, 22)
    li = np.repeat(leaver, ages.size)
    age = np.tile(ages, leaver.size)
    child = ep.child[li]
    bd = np.concatenate([birthday(people.dob[ep.child[leaver]], int(a))[:, None] for a in ages], axis=1).ravel() \
        if leaver.size else np.zeros(0, np.int32)
    yr = collection_year(bd)
    ok = (yr >= first) & (yr <= last) & (bd > ep.decom[li])
    li, age, child, yr = li[ok], age[ok], child[ok], yr[ok]
    order = np.lexsort((child, yr))
    li, age, child, yr = li[order], age[order], child[order], yr[order]
    n = li.size
    touch = rng.choice(len(CARE_LEAVER_IN_TOUCH), n, p=[0.90, 0.05, 0.005, 0.02, 0.015, 0.01])
    in_touch = touch == 0
    p0 = np.clip(0.72 - 0.06 * people.dis[child] - 0.08 * people.frailty[child]
                 + np.where(age == 17, 0.10, np.where(age == 18, 0.0, -0.10)), 0.05, 0.95)
    treated = in_touch & (age <= 18) & (geo.pilot_year[ep.la[li]] <= yr)
    p1 = np.clip(p0 + np.where(treated, effects.pp_eet, 0.0), 0.0, 1.0)
    u = rng.random(n)
    eet0, eet1 = u < p0, u < p1
    eet = np.where(treated, eet1, eet0)
    la_code = geo.la_code[ep.la[li]]
    child_id = token(child.astype(np.int64) * 256 + ep.la[li], salt, 12)
    truth.add_eet(yr[treated], eet1[treated], eet0[treated], la_code[treated], child_id[treated])
    edu = rng.choice([2, 3, 4, 5], n, p=[0.35, 0.15, 0.30, 0.20])  # F2 P2 F4 P4
    edu = np.where((age >= 19) & (rng.random(n) < 0.25), rng.choice([0, 1], n), edu)  # F1/P1 higher education
    neet = rng.choice([8, 9, 10], n)
    act = np.where(eet, edu, neet)
    cols = {
        "CLA_PupilMatchingRefAnonymous": w.strings(pmr(child), people.noncensus[child]),
        "CLA_CHILD_ID_Anon": w.strings(child_id),
        "CLA_LA": w.ints(la_code, pa.int16()),
        "CLA_ACADYR": _acadyr(yr),
        "CLA_AGE": w.ints(age, pa.int8()),
        "CLA_IN_TOUCH": w.codes(touch, CARE_LEAVER_IN_TOUCH),
        "CLA_ACTIV": w.codes(act, CARE_LEAVER_ACTIVITY, ~in_touch),
    }
    return w.write(path, cols)


def write_lookups(tmp: Path, geo: Geography) -> dict[str, int]:
    la = {
        "LA": w.ints(geo.la_code, pa.int16()),
        "LA_9Code": pa.array(geo.la_9code, type=pa.string()),
        "LA_Name": pa.array(geo.la_name, type=pa.string()),
        "Region": pa.array(geo.la_region, type=pa.string()),
    }
    pilot = {
        "LA": w.ints(geo.la_code, pa.int16()),
        "FirstYear": pa.array([academic_year_label(int(y)) for y in geo.pilot_year], type=pa.string()),
    }
    return {"la_lookup.parquet": w.write(tmp / "la_lookup.parquet", la),
            "pp_plus_pilot.parquet": w.write(tmp / "pp_plus_pilot.parquet", pilot)}
