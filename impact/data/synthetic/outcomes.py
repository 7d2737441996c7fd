"""Pupil outcomes with potential outcomes drawn on common random numbers.

Expected absence rate and Attainment 8 are additive in a time-invariant pupil effect, a linear
NC-year term, a year shift (for absence: a function of the year and the pupil's observed FSM and
SEN status that year), a looked-after status term, the planted effects and an optional
differential pre-trend. The suspension probability is a pupil-and-phase term plus a year term. Y(0) is drawn for everyone; Y(1) for treated
units is coupled to Y(0) (binomial thinning/adding, the same noise for scores, the same uniform
for binary outcomes), so the realised sample ATT is exact and is 0 when the effect is 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import (ABSENCE_GROUP_SHIFT, ABSENCE_UNAUTH_AGE_SHARE, ABSENCE_UNAUTH_YEAR_SHARE, ABSENCE_YEAR_SHIFT,
                     A8_YEAR_SHIFT, EM94_RATE, EM95_RATE, SESSIONS, SUSPENSION_YEAR_SHIFT, Calibration)
from .population import People

TERMS = tuple(SESSIONS)


def absence_person_effect(rng: np.random.Generator, people: People, cal: Calibration) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Time-invariant expected absence rate of each person (regular part, school-refuser part) and unauthorised share."""
    n = people.n
    g = rng.gamma(cal.abs_shape, 1.0 / cal.abs_shape, n).astype(np.float32)
    lin = (cal.abs_disadvantage * people.dis + cal.abs_frailty * people.frailty + cal.abs_sen * people.sen_latent
           - 0.08 * people.ability)
    scale = np.exp(lin - np.log(np.mean(np.exp(lin))))
    base = cal.abs_floor + cal.abs_scale * g * scale
    refuser = cal.abs_refuser_shift * (rng.random(n) < cal.abs_refuser_share * np.exp(1.1 * people.frailty + 0.3 * people.dis - 0.71))
    unauth = 1.0 / (1.0 + np.exp(-(-1.25 + 0.45 * people.dis + 0.45 * people.frailty + 0.2 * rng.standard_normal(n))))
    return base.astype(np.float32), refuser.astype(np.float32), unauth.astype(np.float32)


def _couple(rng: np.random.Generator, k0: np.ndarray, n: np.ndarray, p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    """Draw K1 ~ Binomial(n, p1) coupled to K0 ~ Binomial(n, p0): thin K0 or add to it."""
    down = p1 <= p0
    thin = rng.binomial(k0, np.where(down, np.divide(p1, p0, out=np.ones_like(p0), where=p0 > 0), 1.0))
    add = rng.binomial(n - k0, np.where(down, 0.0, np.clip((p1 - p0) / np.maximum(1 - p0, 1e-9), 0, 1)))
    return np.where(down, thin, k0 + add)


@dataclass
class AbsenceDraw:
    """Per pupil (main enrolment) for one year: sessions by term and potential outcomes."""

    possible: np.ndarray  # [n, 4] sessions possible per term (0 where not collected)
    auth: np.ndarray  # realised totals
    unauth: np.ndarray
    expected0: np.ndarray
    expected1: np.ndarray
    auth0: np.ndarray
    unauth0: np.ndarray
    clipped: int


def year_shift(year: int, fsm_now: np.ndarray, sen_now: np.ndarray, cla_now: np.ndarray) -> np.ndarray:
    """Expected shift of the absence rate in `year` given the census FSM flag, SEN code (0 N, 1 K, 2 E)
    and in-care status: a function of (year, FSM, SEN) for every pupil not in care."""
    fsm_x, sen_k, sen_e, cla_x = ABSENCE_GROUP_SHIFT[year]
    home = fsm_x * fsm_now + np.where(sen_now == 1, sen_k, np.where(sen_now == 2, sen_e, 0.0))
    return ABSENCE_YEAR_SHIFT[year] + np.where(cla_now, cla_x, home)


def draw_absence(rng: np.random.Generator, effect_rng: np.random.Generator, year: int, ncy: np.ndarray, base: np.ndarray,
                 refuser: np.ndarray, unauth_share: np.ndarray, fsm_now: np.ndarray, sen_now: np.ndarray,
                 cla_now: np.ndarray, shift: np.ndarray, tau: np.ndarray, tau_unauth_share: float,
                 cal: Calibration) -> AbsenceDraw:
    """Absence sessions for the year's pupils: `shift` is the pre-trend, `tau` the planted effect.

    Y(0) uses `rng` only; the coupled Y(1) draws use `effect_rng`, so Y(0) (and every later draw
    from `rng`) is the same whatever effects are planted.
    """
    n = ncy.size
    possible = np.tile(np.array([SESSIONS[t] for t in TERMS], dtype=np.int16), (n, 1))
    possible[(ncy == 11) | (ncy == 13), 3] = 0  # study leave: no 6th half term for Y11 and Y13
    if year == 2020:
        possible[:, 1:] = 0  # only the autumn term was collected in 2019/20
    total = possible.sum(axis=1, dtype=np.int64)
    k = 1.0 / cal.abs_transitory_sd**2
    eta = rng.gamma(k, 1.0 / k, n).astype(np.float32)
    # the year shift is a function of (year, census FSM, census SEN) in expectation; its pupil-year
    # realisation is a mean-one multiplier independent of everything else, so the mean of any set
    # of pupils in one (FSM, SEN) cell shifts by exactly year_shift(...) (3 x Beta(a, 2a): mean 1,
    # bounded by 3 so that the rate is almost never clipped at the top)
    yr = year_shift(year, fsm_now, sen_now, cla_now) * 3.0 * rng.beta(cal.abs_year_shape, 2 * cal.abs_year_shape, n)
    # looked-after pupils attend better: while in care at the census (as the data record it) their
    # regular pupil effect shrinks and a school refuser stops refusing with chance cla_refusal_stop
    keep = 1 - cal.cla_absence * cla_now
    age = cal.abs_age_slope * ncy * keep
    stops = cla_now & (rng.random(n) < cal.cla_refusal_stop)
    raw0 = base * eta * keep + age + refuser * ~stops + yr + shift
    raw1 = raw0 + tau
    m0 = np.clip(raw0, 0.0, 0.95)
    m1 = np.clip(raw1, 0.0, 0.95)
    clipped = int(((raw0 != m0) | (raw1 != m1)).sum())
    # the pupil's own unauthorised share splits only its time-invariant part; the age term and the year
    # shift are split by common shares, so that the unauthorised rate, like the overall rate, changes by
    # a function of (year, FSM, SEN) plus a common linear NC-year term (pupil-specific age slopes would
    # not be parallel given pupil and NC year x group fixed effects)
    u0 = np.clip(unauth_share * (m0 - yr - age) + ABSENCE_UNAUTH_AGE_SHARE * age + ABSENCE_UNAUTH_YEAR_SHARE * yr,
                 0, m0)
    u1 = np.clip(u0 + tau_unauth_share * (m1 - m0), 0, m1)
    a0, a1 = m0 - u0, m1 - u1
    auth0 = rng.binomial(total, a0)
    q0 = np.clip(u0 / np.maximum(1 - a0, 1e-6), 0, 1)
    unauth0 = rng.binomial(total - auth0, q0)
    treated = tau != 0
    auth, unauth = auth0.copy(), unauth0.copy()
    if treated.any():
        t = np.flatnonzero(treated)
        a_t = _couple(effect_rng, auth0[t], total[t], a0[t], a1[t])
        q1 = np.clip(u1[t] / np.maximum(1 - a0[t], 1e-6), 0, 1)
        u_t = np.minimum(_couple(effect_rng, unauth0[t], total[t] - auth0[t], q0[t], q1), total[t] - a_t)
        auth[t], unauth[t] = a_t, u_t
    return AbsenceDraw(possible, auth, unauth, m0.astype(np.float32), m1.astype(np.float32), auth0, unauth0, clipped)


def split_terms(rng: np.random.Generator, possible: np.ndarray, auth: np.ndarray, unauth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Spread yearly authorised and unauthorised sessions over terms (sequential hypergeometric draws)."""
    n = possible.shape[0]
    a_t = np.zeros_like(possible)
    u_t = np.zeros_like(possible)
    rest_poss = possible.sum(axis=1, dtype=np.int64)
    rest_a, rest_u = auth.astype(np.int64), unauth.astype(np.int64)
    for j in range(possible.shape[1] - 1):
        p = possible[:, j]
        rest_poss = rest_poss - p
        a = rng.hypergeometric(p, rest_poss, rest_a) if n else rest_a
        free_here = p - a
        free_rest = rest_poss - (rest_a - a)
        u = rng.hypergeometric(free_here, free_rest, rest_u) if n else rest_u
        a_t[:, j], u_t[:, j] = a, u
        rest_a, rest_u = rest_a - a, rest_u - u
    a_t[:, -1], u_t[:, -1] = rest_a, rest_u
    return a_t, u_t


def _exclusion_index(people: People, idx: np.ndarray) -> np.ndarray:
    """Time-invariant linear index of a person's exclusion risk."""
    return (0.6 * people.dis[idx] + 0.55 * people.frailty[idx] + 0.35 * people.sen_latent[idx]
            - 0.25 * people.ability[idx] + 0.5 * (people.sex[idx] == 1))


def suspension_propensity(people: People, cal: Calibration) -> np.ndarray:
    """Each person's time-invariant part of the yearly suspension probability (mean `susp_level`, capped)."""
    e = np.exp(cal.susp_spread * _exclusion_index(people, np.arange(people.n)))
    return np.minimum(cal.susp_level * e / e.mean(), cal.susp_cap).astype(np.float32)


def suspensions(rng: np.random.Generator, year: int, people: People, pid: np.ndarray, ncy: np.ndarray,
                propensity: np.ndarray, cal: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """Number of suspensions (0-5) and a permanent exclusion flag per pupil for the year.

    P(any suspension) = pupil propensity + phase term (secondary, sixth form) + year term: additive
    in levels, so group differences in the probability do not change with the year.
    """
    phase = np.where(ncy >= 12, cal.susp_sixth_form, np.where(ncy >= 7, cal.susp_secondary, 0.0))
    p_any = propensity + phase + SUSPENSION_YEAR_SHIFT[year]
    n_susp = np.where(rng.random(pid.size) < p_any, 1 + np.minimum(rng.poisson(0.7, pid.size), 4), 0)
    lin = _exclusion_index(people, pid) + 1.6 * (ncy >= 7) - 0.8 * (ncy >= 12)
    perm = rng.random(pid.size) < 1 / (1 + np.exp(-(cal.perm_base + 1.3 * lin)))
    return n_susp.astype(np.int8), perm


def ks2_scores(rng: np.random.Generator, people: People, pid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reading and maths scaled scores (80-120; -1 = not sat) and the RWM writing component."""
    n = pid.size
    ab, dis = people.ability[pid], people.dis[pid]
    read = np.clip(np.round(103.5 + 6.5 * (0.85 * ab + 0.53 * rng.standard_normal(n)) - 0.5 * dis), 80, 120)
    mat = np.clip(np.round(103.7 + 6.8 * (0.85 * ab + 0.53 * rng.standard_normal(n)) - 0.5 * dis), 80, 120)
    writing = 0.85 * ab + 0.53 * rng.standard_normal(n) > -0.75
    absent = rng.random(n) < 0.015 + 0.03 * (people.frailty[pid] > 1.5)
    read[absent], mat[absent] = -1, -1
    return read.astype(np.int16), mat.astype(np.int16), writing


@dataclass
class KS4Draw:
    a8_0: np.ndarray
    a8: np.ndarray
    em94_0: np.ndarray
    em94: np.ndarray
    em95_0: np.ndarray
    em95: np.ndarray
    ebacc: np.ndarray
    clipped: int


def draw_ks4(rng: np.random.Generator, year: int, people: People, pid: np.ndarray, tau: np.ndarray,
             cal: Calibration) -> KS4Draw:
    """Attainment 8, English and maths 4+/5+ and EBacc entry; Y(1) shares the noise of Y(0)."""
    n = pid.size
    ab, dis, fr, sen = people.ability[pid], people.dis[pid], people.frailty[pid], people.sen_latent[pid]
    person = cal.a8_mean + cal.a8_ability * ab + cal.a8_disadvantage * dis + cal.a8_frailty * fr - 2.5 * sen
    eps = cal.a8_noise * rng.standard_normal(n)
    raw0 = person + A8_YEAR_SHIFT[year] + eps
    a8_0 = np.clip(raw0, 0, 90)
    a8_1 = np.clip(raw0 + tau, 0, 90)
    clipped = int(((raw0 != a8_0) | (raw0 + tau != a8_1)).sum())
    em0 = raw0 + 0.5 * eps - 1.5 * dis + cal.em_noise * rng.standard_normal(n)
    t4 = np.quantile(em0, 1 - EM94_RATE[year]) if n else 0.0
    t5 = np.quantile(em0, 1 - EM95_RATE[year]) if n else 0.0
    em1 = em0 + tau
    ebacc = rng.random(n) < 1 / (1 + np.exp(-(cal.ebacc_base + 1.3 * ab - 0.25 * dis - 0.45 * fr - 0.3 * sen)))
    return KS4Draw(np.round(a8_0, 1), np.round(a8_1, 1), em0 >= t4, em1 >= t4, em0 >= t5, em1 >= t5, ebacc, clipped)


def progress8(a8: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """(A8 - mean A8 of pupils with the same KS2 prior, rounded) / 10; NaN without a prior."""
    out = np.full(a8.size, np.nan)
    has = ~np.isnan(prior)
    if not has.any():
        return out
    band = np.round(prior[has]).astype(np.int64)
    sums = np.bincount(band, weights=a8[has])
    cnt = np.bincount(band)
    pred = sums[band] / cnt[band]
    out[has] = np.clip(np.round((a8[has] - pred) / 10.0, 2), -10, 10)
    return out
