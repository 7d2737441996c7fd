"""Pupil outcomes with potential outcomes drawn on common random numbers.

Expected absence rate and Attainment 8 are additive in a time-invariant pupil effect, a linear
NC-year term, a year shift common to all pupils, a looked-after status term, the planted
effects and an optional differential pre-trend. Y(0) is drawn for everyone; Y(1) for treated
units is coupled to Y(0) (binomial thinning/adding, the same noise for scores, the same uniform
for binary outcomes), so the realised sample ATT is exact and is 0 when the effect is 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import (ABSENCE_UNAUTH_YEAR_SHARE, ABSENCE_YEAR_SHIFT, A8_YEAR_SHIFT, EM94_RATE, EM95_RATE,
                     SESSIONS, Calibration)
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
    refuser = cal.abs_refuser_shift * (rng.random(n) < cal.abs_refuser_share * np.exp(1.0 * people.frailty + 0.3 * people.dis - 0.6))
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


def draw_absence(rng: np.random.Generator, year: int, ncy: np.ndarray, base: np.ndarray, refuser: np.ndarray, unauth_share: np.ndarray,
                 cla_now: np.ndarray, shift: np.ndarray, tau: np.ndarray, tau_unauth_share: float,
                 cal: Calibration) -> AbsenceDraw:
    """Absence sessions for the year's pupils: `shift` is the pre-trend, `tau` the planted effect."""
    n = ncy.size
    possible = np.tile(np.array([SESSIONS[t] for t in TERMS], dtype=np.int16), (n, 1))
    possible[(ncy == 11) | (ncy == 13), 3] = 0  # study leave: no 6th half term for Y11 and Y13
    if year == 2020:
        possible[:, 1:] = 0  # only the autumn term was collected in 2019/20
    total = possible.sum(axis=1, dtype=np.int64)
    k = 1.0 / cal.abs_transitory_sd**2
    eta = rng.gamma(k, 1.0 / k, n).astype(np.float32)
    # the year shift is common in expectation; its pupil-year realisation is a mean-one multiplier
    # independent of everything else, so group means shift by exactly ABSENCE_YEAR_SHIFT[year]
    # (3 x Beta(a, 2a): mean 1, bounded by 3 so that the rate is almost never clipped at the top)
    yr = ABSENCE_YEAR_SHIFT[year] * 3.0 * rng.beta(cal.abs_year_shape, 2 * cal.abs_year_shape, n)
    person = base * eta + cal.abs_age_slope * ncy
    # looked-after pupils attend better: their pupil effect (and 90% of any school refusal) shrinks
    # while in care at the census
    raw0 = (person + 0.9 * refuser) * (1 - cal.cla_absence * cla_now) + 0.1 * refuser + yr + shift
    raw1 = raw0 + tau
    m0 = np.clip(raw0, 0.0, 0.95)
    m1 = np.clip(raw1, 0.0, 0.95)
    clipped = int(((raw0 != m0) | (raw1 != m1)).sum())
    u0 = np.clip(unauth_share * (m0 - yr) + ABSENCE_UNAUTH_YEAR_SHARE * yr, 0, m0)
    u1 = np.clip(u0 + tau_unauth_share * (m1 - m0), 0, m1)
    a0, a1 = m0 - u0, m1 - u1
    auth0 = rng.binomial(total, a0)
    q0 = np.clip(u0 / np.maximum(1 - a0, 1e-6), 0, 1)
    unauth0 = rng.binomial(total - auth0, q0)
    treated = tau != 0
    auth, unauth = auth0.copy(), unauth0.copy()
    if treated.any():
        t = np.flatnonzero(treated)
        a_t = _couple(rng, auth0[t], total[t], a0[t], a1[t])
        q1 = np.clip(u1[t] / np.maximum(1 - a0[t], 1e-6), 0, 1)
        u_t = np.minimum(_couple(rng, unauth0[t], total[t] - auth0[t], q0[t], q1), total[t] - a_t)
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


def suspensions(rng: np.random.Generator, year: int, people: People, pid: np.ndarray, ncy: np.ndarray,
                cal: Calibration) -> tuple[np.ndarray, np.ndarray]:
    """Number of suspensions (0-5) and a permanent exclusion flag per pupil for the year."""
    lin = (0.6 * people.dis[pid] + 0.55 * people.frailty[pid] + 0.35 * people.sen_latent[pid] - 0.25 * people.ability[pid]
           + 1.6 * (ncy >= 7) - 0.8 * (ncy >= 12) + (people.sex[pid] == 1) * 0.5 + {2020: -0.35, 2021: -0.25}.get(year, 0.0)
           + 0.1 * (year >= 2022))
    n_susp = np.where(rng.random(pid.size) < 1 / (1 + np.exp(-(cal.susp_base + lin))),
                      1 + np.minimum(rng.poisson(0.7, pid.size), 4), 0)
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
