"""Children's social care histories: CIN episodes with nested CPPs, CIN plans and periods of care.

Episodes start from a yearly hazard that depends on observables (FSM, SEN, prior attainment,
IDACI, LA) and on an unobserved family-need frailty; at most one new referral per child and
collection year, never while another episode is open. All dates are int32 day numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .config import Calibration
from .dates import age_at, collection_year, day
from .population import People

NO_DATE = np.iinfo(np.int32).max  # start of an interval that does not exist


@dataclass
class Episodes:
    """One entry per CIN episode (referral); CPP, plan and CLA columns are NO_DATE when absent."""

    child: np.ndarray  # int32 person index
    la: np.ndarray  # int16 LA index making the return
    ref: np.ndarray
    close: np.ndarray  # true closure date (may be after the last collection year)
    nfa: np.ndarray  # bool
    reason: np.ndarray  # int8 1..8 (8 = RC8)
    need: np.ndarray  # int8 0..9
    cpp_start: np.ndarray
    cpp_end: np.ndarray
    plan_start: np.ndarray
    plan_end: np.ndarray
    decom: np.ndarray  # CLA period start (NO_DATE: not looked after)
    dec: np.ndarray
    ls: np.ndarray  # int8 index into LEGAL_STATUS
    place: np.ndarray  # int8 index into PLACEMENTS
    rec: np.ndarray  # int8 index into REASON_ENDED
    young_link: np.ndarray  # bool: carries a PMR even while the child is under 5
    link_fail: np.ndarray  # bool: linkage failure (parameter `link_failure`, default 0)

    @classmethod
    def concat(cls, parts: list["Episodes"]) -> "Episodes":
        return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})

    def __len__(self) -> int:
        return self.child.size


LEGAL_STATUS = ("C2", "V2", "C1", "E1", "L2")
_LS_P = (0.55, 0.22, 0.15, 0.05, 0.03)
PLACEMENTS = ("U4", "U6", "U1", "U3", "K2", "P1", "A4", "R1", "P2", "Z1")
_PLACE_P = (0.40, 0.14, 0.12, 0.05, 0.11, 0.07, 0.03, 0.02, 0.03, 0.03)
REASON_ENDED = ("E4A", "E13", "E8", "E11", "E12", "E41", "E45")


def _lognormal_days(rng: np.random.Generator, n: int, median: float, sigma: float) -> np.ndarray:
    return np.maximum(1, median * np.exp(sigma * rng.standard_normal(n))).astype(np.int32)


def start_episodes(
    rng: np.random.Generator, year: int, people: People, idx: np.ndarray, fsm_now: np.ndarray,
    sen_now: np.ndarray, la_effect: np.ndarray, open_until: np.ndarray, n_prev: np.ndarray, cal: Calibration, link_failure: float,
) -> Episodes:
    """New referrals in collection year `year` among persons `idx` (aged 0-17 during the year)."""
    y0, y1 = day(year - 1, 4, 1), day(year, 3, 31)
    dob = people.dob[idx]
    age = np.clip(age_at(dob, y0), 0, 17)
    logh = (
        cal.cin_base + np.asarray(cal.cin_age, dtype=np.float32)[age]
        + cal.cin_disadvantage * people.dis[idx] + cal.cin_fsm * fsm_now + cal.cin_sen * sen_now
        - cal.cin_prior * people.ability[idx] + cal.cin_idaci * (people.idaci[idx] - 0.2)
        + la_effect[people.la[idx]] + cal.cin_frailty_sd * people.frailty[idx]
        + cal.cin_repeat * (n_prev[idx] > 0)
    )
    p = -np.expm1(-np.exp(logh))
    ref = y0 + rng.integers(0, y1 - y0 + 1, idx.size).astype(np.int32)
    ref = np.maximum(ref, dob)
    adult = people.last_child_day[idx]  # CIN and care end the day before the 18th birthday
    hit = (rng.random(idx.size) < p) & (open_until[idx] < ref) & (ref <= y1) & (ref < adult)
    child = idx[hit].astype(np.int32)
    ref, age, dob, adult = ref[hit], age[hit], dob[hit], adult[hit]
    n = child.size
    kind = rng.random(n)
    nfa = kind < cal.nfa_share
    rc8 = ~nfa & (kind < cal.nfa_share + (1 - cal.nfa_share) * cal.rc8_share)
    real = ~nfa & ~rc8
    bucket = np.searchsorted(np.array([1, 5, 10, 16]), age, side="right")
    frail = people.frailty[child]
    u = rng.random(n)
    p_cla = np.asarray(cal.cla_share)[bucket] * np.exp(0.35 * frail - 0.1)
    p_cpp = cal.cpp_share * np.exp(0.5 * frail - 0.40) * (age < 16)
    is_cla = real & (u < p_cla)
    is_cpp = real & ~is_cla & (u < p_cla + p_cpp)
    # closure
    close = ref + _lognormal_days(rng, n, cal.cin_days_median, 0.8)
    close = np.where(nfa, ref, close)
    close = np.where(rc8, np.minimum(ref + rng.integers(10, 60, n).astype(np.int32), y1), close)
    # child protection plan (then a CIN plan as step-down)
    cpp_start = np.where(is_cpp, ref + rng.integers(15, 60, n).astype(np.int32), NO_DATE)
    cpp_end = np.where(is_cpp, cpp_start + _lognormal_days(rng, n, cal.cpp_days_median, 0.6), NO_DATE)
    close = np.where(is_cpp, cpp_end + rng.integers(30, 240, n).astype(np.int32), close)
    # period of care
    decom = np.where(is_cla, ref + rng.integers(0, 90, n).astype(np.int32), NO_DATE)
    dec = np.where(is_cla, np.minimum(decom + _lognormal_days(rng, n, cal.cla_days_median, 1.0), adult), NO_DATE)
    close = np.where(is_cla, dec + rng.integers(0, 60, n).astype(np.int32), close)
    close = np.where(nfa, close, np.minimum(close, adult))
    decom = np.where(is_cla & (decom >= adult), NO_DATE, decom)
    dec = np.where(decom == NO_DATE, NO_DATE, np.minimum(dec, close))
    cpp_start = np.where(is_cpp & (cpp_start >= close), NO_DATE, cpp_start)
    cpp_end = np.where(cpp_start == NO_DATE, NO_DATE, np.minimum(cpp_end, close))
    # CIN plans: real CIN-only episodes (most), and step-down plans after a CPP
    plan_start = np.where(real & ~is_cla & ~is_cpp & (rng.random(n) < 0.85),
                          ref + rng.integers(20, 50, n).astype(np.int32), NO_DATE)
    plan_start = np.where(is_cpp & (cpp_start != NO_DATE) & (cpp_end + 1 < close), cpp_end + 1, plan_start)
    plan_start = np.where(plan_start >= close, NO_DATE, plan_start)
    plan_end = np.where(plan_start == NO_DATE, NO_DATE, np.maximum(plan_start, close - rng.integers(0, 10, n).astype(np.int32)))
    reason = np.where(rc8 | nfa, 8, rng.choice(7, n, p=[0.12, 0.05, 0.05, 0.06, 0.10, 0.17, 0.45]) + 1).astype(np.int8)
    need = np.where(nfa | rc8, rng.choice(10, n, p=[0.02, 0.40, 0.05, 0.03, 0.05, 0.12, 0.03, 0.02, 0.08, 0.20]),
                    rng.choice(10, n, p=[0.0, 0.55, 0.06, 0.04, 0.05, 0.17, 0.03, 0.02, 0.08, 0.0])).astype(np.int8)
    ls = rng.choice(len(LEGAL_STATUS), n, p=_LS_P).astype(np.int8)
    place = rng.choice(len(PLACEMENTS), n, p=_PLACE_P).astype(np.int8)
    place = np.where((age >= 12) & (rng.random(n) < 0.25), PLACEMENTS.index("K2"), place).astype(np.int8)
    adopted = (age < 5) & (rng.random(n) < 0.4)
    rec = np.where(dec >= adult, REASON_ENDED.index("E8"),
                   np.where(adopted, REASON_ENDED.index("E11"), rng.choice([0, 1, 2, 5, 6], n, p=[0.6, 0.2, 0.1, 0.05, 0.05]))).astype(np.int8)
    young_link = rng.random(n) < cal.young_link
    return Episodes(
        child=child, la=people.la[child].copy(), ref=ref.astype(np.int32), close=close.astype(np.int32), nfa=nfa,
        reason=reason, need=need, cpp_start=cpp_start.astype(np.int32), cpp_end=cpp_end.astype(np.int32),
        plan_start=plan_start.astype(np.int32), plan_end=plan_end.astype(np.int32), decom=decom.astype(np.int32),
        dec=dec.astype(np.int32), ls=ls, place=place, rec=rec, young_link=young_link,
        link_fail=rng.random(n) < link_failure,
    )


def linked(ep: Episodes, people: People, row_year: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Whether an episode's row of collection year `row_year` carries the pupil matching reference.

    Rows of children never in a state school carry none; rows while the child is under 5 (at
    31 March) carry one only for a minority of episodes (`young_link`); linkage failure for
    pupils (`link_fail`, default none) removes it. The rule is monotone in time within an
    episode, so the latest row of an episode is linked whenever any row is. `rows` selects
    episodes (one per row) when `row_year` is per written row.
    """
    child, young, fail = ((ep.child, ep.young_link, ep.link_fail) if rows is None
                          else (ep.child[rows], ep.young_link[rows], ep.link_fail[rows]))
    age = age_at(people.dob[child], _march31(row_year))
    return ~people.noncensus[child] & ((age >= 5) | young) & ~fail


def _march31(year: np.ndarray) -> np.ndarray:
    y = np.asarray(year, dtype=np.int64)
    return ((y - 1970).astype("datetime64[Y]").astype("datetime64[D]") + np.timedelta64(89, "D")).astype(np.int32) \
        + ((y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))).astype(np.int32)


def last_row_year(end: np.ndarray, last: int) -> np.ndarray:
    """Collection year of an interval's last written row (its end's year, capped at `last`)."""
    return np.minimum(collection_year(np.minimum(end, day(last, 3, 31))), last).astype(np.int16)


@dataclass
class Visible:
    """Intervals as the cohort SQL sees them: linkable episodes after the default exclusions."""

    child: np.ndarray
    start: np.ndarray
    end: np.ndarray


def visible_intervals(ep: Episodes, people: People, last: int) -> dict[str, Visible]:
    """CIN (excl. NFA and RC8), CPP and CLA intervals with at least one linked row."""
    out = {}
    cin_vis = linked(ep, people, last_row_year(ep.close, last))
    m = cin_vis & ~ep.nfa & (ep.reason != 8)
    out["cin"] = Visible(ep.child[m], ep.ref[m], ep.close[m])
    m = cin_vis & (ep.cpp_start != NO_DATE)
    out["cpp"] = Visible(ep.child[m], ep.cpp_start[m], ep.cpp_end[m])
    has = ep.decom != NO_DATE
    cla_vis = has & linked(ep, people, last_row_year(np.where(has, ep.dec, ep.ref), last))
    out["cla"] = Visible(ep.child[cla_vis], ep.decom[cla_vis], ep.dec[cla_vis])
    return out


def overlap_flag(n: int, iv: Visible, window_start: int, c: int) -> np.ndarray:
    """Per person: an interval overlaps the closed window [window_start, c]."""
    flag = np.zeros(n, dtype=bool)
    flag[iv.child[(iv.start <= c) & (iv.end >= window_start)]] = True
    return flag
