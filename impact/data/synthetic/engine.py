"""The year loop: population, FSM, social care, outcomes; each year's files written as it goes."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
from scipy.special import ndtri

from ..contracts import ETHNIC_MAJOR, ETHNIC_MINOR, FIRST_LANGUAGE
from . import writer as w
from .config import (FSM_RATE, LOOKBACK, NO_KS2_YEARS, NO_P8_YEARS, POLICY_YEAR, UC_PROTECTION_FROM, Calibration,
                     PlantedEffects)
from .dates import academic_year_label, birthday, day, spring_census, years_before
from .outcomes import (TERMS, absence_person_effect, draw_absence, draw_ks4, ks2_scores, progress8, split_terms,
                       suspension_propensity, suspensions)
from .population import ETH_MINOR_TO_MAJOR, PRIMARY, SECONDARY, build_geography, build_people, token
from .social_care import NO_DATE, Episodes, overlap_flag, start_episodes, visible_intervals
from .tables import write_care_leavers, write_cin, write_cla, write_lookups
from .truth import Truth
from .unit_effects import UnitEffects

SALT_PMR, SALT_CIN, SALT_CLA = 11, 23, 37
SIXTH_FORM_YEARS = (12, 13)


def run(tmp: Path, *, pupils: int, seed: int, first: int, last: int, effects: PlantedEffects, pretrend: float,
        write_burn_in: bool, link_failure: float, progress: Callable[[str], None]) -> Truth:
    cal = Calibration()
    if write_burn_in:  # also write the five years whose springs feed EVERFSM_6 of the first year
        first -= LOOKBACK - 1
    # four streams: population and social care (rng), outcomes Y(0) (out_rng), the coupled Y(1)
    # draws (effect_rng), and the split of realised sessions over terms and schools (split_rng,
    # whose draws depend on the realised counts), so that planted effects and pre-trends change
    # outcomes only, never who is treated or compared, and planted effects never change any Y(0)
    rng, out_rng, effect_rng, split_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    per_cohort = max(1, round(pupils / ((1 - cal.noncensus_share) * (12 + 2 * cal.stay_on_share))))
    start = first - 2 * LOOKBACK  # social care burn-in start (collection year)
    fsm_from = first - (LOOKBACK - 1)  # springs Y-5..Y feed EVERFSM_6
    ks2_from = first - 7  # KS2 of every pupil on roll in the first written year
    census_from = min(ks2_from, fsm_from)
    # children aged 0-17 in any written collection year (first - 6 on); older cohorts never appear
    k_first = first - LOOKBACK - 18
    progress(f"population: {per_cohort:,} children per birth cohort, cohorts {k_first}-{last}")
    geo = build_geography(rng, pupils, cal)
    people = build_people(rng, geo, k_first, last, per_cohort, cal)
    n = people.n
    abs_base, abs_refuser, unauth_share = absence_person_effect(rng, people, cal)
    susp_propensity = suspension_propensity(people, cal)
    fsm_w = rng.standard_normal(n).astype(np.float32)
    school = np.full(n, -1, dtype=np.int32)
    dual = np.full(n, -1, dtype=np.int32)
    last_fsm = np.full(n, -9999, dtype=np.int16)
    fsm_prev = np.zeros(n, dtype=bool)
    fsm_since_uc = np.zeros(n, dtype=bool)
    open_until = np.full(n, -1, dtype=np.int32)
    n_prev = np.zeros(n, dtype=np.int8)
    ks2_prior = np.full(n, np.nan, dtype=np.float32)
    pmr = lambda ids: token(ids, seed * 1000 + SALT_PMR)  # noqa: E731
    episodes: list[Episodes] = []
    units = UnitEffects(tmp, pmr)
    truth = Truth(effects=effects, units=units)
    ks2_out, ks4_out = w.Appender(tmp / "ks2.parquet"), w.Appender(tmp / "ks4.parquet")
    files: dict[str, int] = {}
    a_fsm = cal.fsm_loading
    for year in range(start, last + 1):
        alive = people.slice_of(year - 18, year)
        ids = np.arange(alive.start, alive.stop)
        eps = rng.standard_normal(ids.size).astype(np.float32)
        fsm_w[ids] = cal.fsm_persistence * fsm_w[ids] + np.sqrt(1 - cal.fsm_persistence**2) * eps
        latent = a_fsm * people.dis[ids] + np.sqrt(1 - a_fsm**2) * fsm_w[ids]
        movers = ids[rng.random(ids.size) < cal.la_move]
        people.la[movers] = rng.choice(len(geo.la_code), movers.size, p=geo.la_weight)
        sen_score = people.sen_latent[ids] + 0.35 * rng.standard_normal(ids.size).astype(np.float32)
        sen_code = np.where(sen_score > 1.751 * 1.06, 2, np.where(sen_score > 0.954 * 1.06, 1, 0)).astype(np.int8)
        # --- the spring census population ---------------------------------------------
        ncy_all = (year - people.cohort[ids] - 5).astype(np.int16)
        on_roll = (~people.noncensus[ids] & (ncy_all >= 0) & ((ncy_all <= 11) | ((ncy_all <= 13) & people.stays_on[ids])))
        pid = ids[on_roll]
        ncy = ncy_all[on_roll]
        thr = ndtri(1 - FSM_RATE[year])
        fsm_raw_all = latent > thr
        if year >= census_from:
            school_moved = _assign_schools(rng, geo, people, school, dual, pid, ncy, movers, cal)
        if year >= fsm_from:
            prot = fsm_prev[pid] & fsm_since_uc[pid] & people.uc[pid] & (year >= UC_PROTECTION_FROM)
            lat = latent[on_roll]
            need = FSM_RATE[year] * pid.size - prot.sum()
            pool = lat[~prot]
            if need <= 0 or pool.size == 0:
                thr_y = np.inf
            else:
                kth = max(0, pool.size - int(round(need)))
                thr_y = np.partition(pool, kth)[kth] if kth < pool.size else np.inf
            raw = lat >= thr_y
            fsm = raw | prot
            protected = prot & ~raw
            fsm_prev[ids] = False
            fsm_prev[pid] = fsm
            if year >= UC_PROTECTION_FROM:
                fsm_since_uc[pid[fsm]] = True
            last_fsm[pid[fsm]] = year
            fsm_raw_all = latent > thr_y
        # --- social care: referrals in collection year `year` -----------------------------
        step = 2_000_000  # bound the hazard's temporaries
        new = Episodes.concat([
            start_episodes(rng, year, people, ids[k:k + step], fsm_raw_all[k:k + step], sen_score[k:k + step],
                           geo.la_effect, open_until, n_prev, cal, link_failure)
            for k in range(0, ids.size, step)])
        episodes.append(new)
        open_until[new.child] = new.close
        n_prev[new.child] = np.minimum(n_prev[new.child] + 1, 100)
        # --- KS2 at the end of Year 6 -------------------------------------------------------
        if year >= ks2_from and year not in NO_KS2_YEARS:
            y6 = pid[ncy == 6]
            read, mat, writing = ks2_scores(out_rng, people, y6)
            sat = read >= 0
            ks2_prior[y6[sat]] = (read[sat] + mat[sat]) / 2.0
            ks2_out.add({
                "KS2_PupilMatchingRefAnonymous": w.strings(pmr(y6)),
                "KS2_ACADYR": w.constant_string(academic_year_label(year), y6.size),
                "KS2_LA": w.ints(geo.la_code[geo.school_la[school[y6]]], pa.int16()),
                "KS2_LAESTAB": w.ints(geo.school_laestab[school[y6]], pa.int32()),
                "KS2_READSCORE": w.ints(read, pa.int16(), ~sat),
                "KS2_MATSCORE": w.ints(mat, pa.int16(), ~sat),
                "KS2_READEXP": w.ints((read >= 100).astype(np.int8), pa.int8()),
                "KS2_MATEXP": w.ints((mat >= 100).astype(np.int8), pa.int8()),
                "KS2_RWMEXP": w.ints(((read >= 100) & (mat >= 100) & writing).astype(np.int8), pa.int8()),
            })
        if year < first:
            continue
        # --- flags at the spring census (definitions.md) ------------------------------------
        progress(f"year {year}: {pid.size:,} pupils on roll")
        c = spring_census(year)
        lo = years_before(c, LOOKBACK)
        allep = Episodes.concat(episodes)
        episodes = [allep]  # keep one copy
        vis = visible_intervals(allep, people, last)
        ever_cin, ever_cpp, ever_cla = (overlap_flag(n, vis[k], lo, c)[pid] for k in ("cin", "cpp", "cla"))
        ever_cwsw = ever_cin | ever_cpp | ever_cla
        treated_group = ever_cwsw & ~ever_cla
        everfsm6 = last_fsm[pid] >= year - (LOOKBACK - 1)
        # in care at the census as the written data show it (linkable episodes): such pupils are
        # ever6_cla, so the looked-after term never touches the default treated or comparison rows
        cla_now = _contains(n, vis["cla"].child, vis["cla"].start, vis["cla"].end, c)[pid]
        d_vsh = treated_group & (year >= POLICY_YEAR)
        mult = effects.multiplier(year)
        pp_units = _pp_units(allep, people, geo, pid, ncy, c, year)
        tau_abs = np.where(d_vsh, effects.absence * mult, 0.0) + np.where(pp_units, effects.pp_absence, 0.0)
        shift = np.where(treated_group & (year < POLICY_YEAR), pretrend / 100.0 * (year - (POLICY_YEAR - 1)), 0.0)
        draw = draw_absence(out_rng, effect_rng, year, ncy, abs_base[pid], abs_refuser[pid], unauth_share[pid], fsm,
                            sen_code[on_roll], cla_now, shift, tau_abs, effects.absence_unauthorised_share, cal)
        truth.add_absence(year, draw, d_vsh, pp_units, pid)
        truth.add_counts(year, pid.size, treated_group, ever_cwsw, everfsm6 & ~ever_cwsw,
                         ever_cla, int(pp_units.sum()))
        n_susp, perm = suspensions(out_rng, year, people, pid, ncy, susp_propensity[pid], cal)
        files.update(_write_census_year(tmp, out_rng, split_rng, year, c, geo, people, pid, ncy, school, dual, school_moved, pmr,
                                        fsm, protected, everfsm6, sen_code[on_roll], draw, n_susp, perm))
        # --- KS4 at the end of Year 11 -----------------------------------------------------
        y11 = ncy == 11
        k = pid[y11]
        tau_a8 = np.where(d_vsh[y11], effects.attainment8 * mult, 0.0)
        ks4 = draw_ks4(out_rng, year, people, k, tau_a8, cal)
        truth.add_ks4(year, ks4, d_vsh[y11], k)
        p8 = progress8(ks4.a8, ks2_prior[k].astype(np.float64))
        no_p8 = np.isnan(p8) | (year in NO_P8_YEARS)
        ks4_out.add({
            "KS4_PupilMatchingRefAnonymous": w.strings(pmr(k)),
            "KS4_ACADYR": w.constant_string(academic_year_label(year), k.size),
            "KS4_LA": w.ints(geo.la_code[geo.school_la[school[k]]], pa.int16()),
            "KS4_LAESTAB": w.ints(geo.school_laestab[school[k]], pa.int32()),
            "KS4_ATT8": pa.array(ks4.a8, type=pa.float64()),
            "KS4_P8SCORE": pa.array(np.where(no_p8, 0.0, p8), type=pa.float64(), mask=no_p8),
            "KS4_INP8CALC": w.ints((~no_p8).astype(np.int8), pa.int8()),
            "KS4_L2BASICS_94": w.ints(ks4.em94.astype(np.int8), pa.int8()),
            "KS4_L2BASICS_95": w.ints(ks4.em95.astype(np.int8), pa.int8()),
            "KS4_EBACC_E_PTQ_EE": w.ints(ks4.ebacc.astype(np.int8), pa.int8()),
            "KS4_FSM6": w.ints(everfsm6[y11].astype(np.int8), pa.int8()),
        })
    files["ks2.parquet"] = ks2_out.close()
    files["ks4.parquet"] = ks4_out.close()
    progress("social care tables")
    del abs_base, abs_refuser, unauth_share, susp_propensity, fsm_w, school, dual, last_fsm, fsm_prev, fsm_since_uc, ks2_prior
    allep = Episodes.concat(episodes)
    del episodes
    first_cy = first - LOOKBACK
    files["cin.parquet"] = write_cin(tmp / "cin.parquet", allep, people, geo, first_cy, last, pmr, seed * 1000 + SALT_CIN)
    files["cla_episodes.parquet"] = write_cla(tmp / "cla_episodes.parquet", allep, people, geo, first_cy, last, pmr,
                                              seed * 1000 + SALT_CLA)
    files["care_leavers.parquet"] = write_care_leavers(tmp / "care_leavers.parquet", out_rng, allep, people, geo, first,
                                                       last, pmr, seed * 1000 + SALT_CLA, effects, truth)
    files.update(write_lookups(tmp, geo))
    files.update(units.close())
    truth.files = dict(sorted(files.items()))
    return truth


def _contains(n: int, child: np.ndarray, start: np.ndarray, end: np.ndarray, c: int) -> np.ndarray:
    flag = np.zeros(n, dtype=bool)
    flag[child[(start != NO_DATE) & (start <= c) & (end >= c)]] = True
    return flag


def _pp_units(ep: Episodes, people, geo, pid: np.ndarray, ncy: np.ndarray, c: int, year: int) -> np.ndarray:
    """PP+ pilot units: pupils in NC 12-13 looked after on/after their 16th birthday, care LA in the pilot."""
    has = (ep.decom != NO_DATE) & (ep.decom <= c)
    child = ep.child[has]
    late = ep.dec[has] >= birthday(people.dob[child], 16)
    care_la = np.full(people.n, -1, dtype=np.int32)
    care_la[child[late]] = ep.la[has][late]
    la = care_la[pid]
    return (la >= 0) & np.isin(ncy, SIXTH_FORM_YEARS) & (geo.pilot_year[np.maximum(la, 0)] <= year)


def _assign_schools(rng, geo, people, school, dual, pid, ncy, la_movers, cal) -> np.ndarray:
    """New schools at reception, Year 7, LA moves and occasional school moves; returns the movers."""
    phase = np.where(ncy >= 7, SECONDARY, PRIMARY)
    la = people.la[pid]
    moved_la = np.isin(pid, la_movers)
    random_move = (rng.random(pid.size) < cal.school_move) & (school[pid] >= 0)
    entry = (ncy == 0) | (ncy == 7) | (school[pid] < 0)
    change = entry | moved_la | random_move
    u = rng.random(pid.size)
    new = geo.school_start[la, phase] + (u * geo.school_count[la, phase]).astype(np.int64)
    mover = change & ~entry & (school[pid] >= 0)
    school[pid] = np.where(change, new, school[pid])
    has_dual = rng.random(pid.size) < cal.dual_share * np.exp(0.5 * people.frailty[pid] - 0.125)
    dual[pid] = np.where(has_dual & ~mover, geo.pru[la], -1)
    return mover


def _write_census_year(tmp, rng, split_rng, year, c, geo, people, pid, ncy, school, dual, mover, pmr, fsm, protected,
                       everfsm6, sen, draw, n_susp, perm) -> dict[str, int]:
    """spring_census_YYYY, absence_YYYY and exclusions_YYYY for one year."""
    yy = f"{year % 100:02d}"
    sfx = lambda name: f"{name}_SPR{yy}"  # noqa: E731
    tok = pmr(pid)
    sch = school[pid]
    sub = dual[pid]
    has_sub = sub >= 0
    # census rows: main (C, or M with a subsidiary S row), in pupil order
    rows_pid = np.r_[np.arange(pid.size), np.flatnonzero(has_sub)]
    rows_school = np.r_[sch, sub[has_sub]]
    status = np.r_[np.where(has_sub, 1, 0), np.full(has_sub.sum(), 2)].astype(np.int8)
    order = np.argsort(rows_pid, kind="stable")
    rows_pid, rows_school, status = rows_pid[order], rows_school[order], status[order]
    who = pid[rows_pid]
    nc_labels = ["R"] + [str(i) for i in range(1, 15)]
    sen_labels = ("N", "K", "E") if year >= 2015 else ("N", "A", "S")
    if year < 2015:
        sen = np.where((sen == 1) & (rng.random(sen.size) < 0.4), 3, sen)
        sen_labels = ("N", "A", "S", "P")
    major = ETH_MINOR_TO_MAJOR[people.eth_minor[who]]
    lang = np.array([0, 2, 4])[people.eal[who]]
    def census(r: slice) -> dict:
        rp, rs, st, g, maj, lng = rows_pid[r], rows_school[r], status[r], who[r], major[r], lang[r]
        return {
        sfx("PupilMatchingRefAnonymous"): w.strings(tok[rp]),
        sfx("AcademicYear"): w.constant_string(academic_year_label(year), rp.size),
        sfx("CensusDate"): w.dates(np.full(rp.size, c)),
        sfx("LA"): w.ints(geo.la_code[geo.school_la[rs]], pa.int16()),
        sfx("LA_9Code"): w.codes(geo.school_la[rs], geo.la_9code),
        sfx("LAESTAB"): w.ints(geo.school_laestab[rs], pa.int32()),
        sfx("URN"): w.ints(geo.school_urn[rs], pa.int32()),
        sfx("EnrolStatus"): w.codes(st, ("C", "M", "S")),
        sfx("NCyearActual"): w.codes(ncy[rp], nc_labels),
        sfx("YearOfBirth"): w.ints((people.cohort[g] - (people.month[g] >= 9)).astype(np.int16), pa.int16()),
        sfx("MonthOfBirth"): w.ints(people.month[g], pa.int8()),
        sfx("Gender"): w.codes(people.sex[g] - 1, ("M", "F")),
        sfx("EthnicGroupMajor"): w.codes(maj, ETHNIC_MAJOR),
        sfx("EthnicGroupMinor"): w.codes(people.eth_minor[g], ETHNIC_MINOR),
        sfx("FirstLanguage"): w.codes(lng, FIRST_LANGUAGE),
        sfx("FSMeligible"): w.ints(fsm[rp].astype(np.int8), pa.int8()),
        sfx("EVERFSM_6"): w.ints(everfsm6[rp].astype(np.int8), pa.int8()),
        sfx("FSM_protected"): w.ints(protected[rp].astype(np.int8), pa.int8()),
        sfx("SENprovision"): w.codes(sen[rp], sen_labels),
        sfx("IDACIScore_15"): pa.array(people.idaci[g].astype(np.float64)),
        }
    out = {f"spring_census_{year}.parquet": w.write_chunked(tmp / f"spring_census_{year}.parquet", rows_pid.size, census)}
    # absence rows: main school (all terms, or spring onwards for movers), old school (autumn) for
    # movers, subsidiary dual registration (a fifth of the sessions)
    main_a, main_u = split_terms(split_rng, draw.possible, draw.auth, draw.unauth)
    main_poss = draw.possible.copy()
    si = np.flatnonzero(has_sub)  # a fifth of each term's sessions at the subsidiary school
    sub_poss = (main_poss[si] // 5).astype(np.int16)
    sub_a = split_rng.hypergeometric(sub_poss, main_poss[si] - sub_poss, main_a[si]).astype(np.int16)
    sub_u = split_rng.hypergeometric(sub_poss - sub_a, main_poss[si] - sub_poss - (main_a[si] - sub_a), main_u[si]).astype(np.int16)
    main_poss[si] -= sub_poss
    main_a[si] -= sub_a
    main_u[si] -= sub_u
    mi = np.flatnonzero(mover)  # the autumn term at the school a mover left
    old_poss, old_a, old_u = (np.zeros((mi.size, 4), dtype=np.int16) for _ in range(3))
    for old, main in ((old_poss, main_poss), (old_a, main_a), (old_u, main_u)):
        old[:, 0] = main[mi, 0]
        main[mi, 0] = 0
    old_school = _previous_school(rng, geo, people, pid[mi], ncy[mi], sch[mi])
    blocks = [(np.arange(pid.size), sch, main_poss, main_a, main_u),
              (mi, old_school, old_poss, old_a, old_u),
              (si, sub[si], sub_poss, sub_a, sub_u)]
    idx = np.concatenate([b[0] for b in blocks])
    order = np.argsort(idx, kind="stable")
    idx = idx[order]
    schools = np.concatenate([b[1] for b in blocks])[order]
    P, A, U = (np.concatenate([b[k] for b in blocks])[order] for k in (2, 3, 4))
    del blocks, main_poss, main_a, main_u
    def absence(r: slice) -> dict:
        i, sc, p_, a_, u_ = idx[r], schools[r], P[r], A[r], U[r]
        cols = {
            "PupilMatchingRefAnonymous": w.strings(tok[i]),
            "AcademicYear": w.constant_string(academic_year_label(year), i.size),
            "LA": w.ints(geo.la_code[geo.school_la[sc]], pa.int16()),
            "LAESTAB": w.ints(geo.school_laestab[sc], pa.int32()),
        }
        null_terms = np.full(i.size, year == 2020)
        for j, term in enumerate(TERMS):
            mask = null_terms if j > 0 else None
            cols[f"SessionsPossible_{term}"] = w.ints(p_[:, j], pa.int16(), mask)
            cols[f"AuthorisedAbsence_{term}"] = w.ints(a_[:, j], pa.int16(), mask)
            cols[f"UnauthorisedAbsence_{term}"] = w.ints(u_[:, j], pa.int16(), mask)
            cols[f"OverallAbsence_{term}"] = w.ints(a_[:, j] + u_[:, j], pa.int16(), mask)
        return cols

    out[f"absence_{year}.parquet"] = w.write_chunked(tmp / f"absence_{year}.parquet", idx.size, absence)
    del P, A, U
    # exclusions: one row per suspension (FIXD, a few LNCH) and permanent exclusion, at the main school
    k = n_susp.astype(np.int64)
    who = np.repeat(np.arange(pid.size), k)
    j = np.arange(who.size) - np.repeat(np.cumsum(k) - k, k)
    base = rng.integers(0, 180, pid.size)[who]
    offset = (base + 29 * j) % 180
    cat = np.where(rng.random(who.size) < 0.04, 2, 1)
    sess = np.where(cat == 2, 1.0, np.round(np.minimum(1 + rng.exponential(2.5, who.size), 40) * 2) / 2)
    pw = np.flatnonzero(perm)
    who = np.r_[who, pw]
    offset = np.r_[offset, rng.integers(0, 180, pw.size)]
    cat = np.r_[cat, np.zeros(pw.size, dtype=cat.dtype)]
    sess = np.r_[sess, np.full(pw.size, np.nan)]
    order = np.lexsort((cat, offset, who))
    who, offset, cat, sess = who[order], offset[order], cat[order], sess[order]
    start = day(year - 1, 9, 4) + (offset * 5) // 3 + 0
    exclusions = {
        "PupilMatchingRefAnonymous": w.strings(tok[who]),
        "AcademicYear": w.constant_string(academic_year_label(year), who.size),
        "LA": w.ints(geo.la_code[geo.school_la[sch[who]]], pa.int16()),
        "LAESTAB": w.ints(geo.school_laestab[sch[who]], pa.int32()),
        "Category": w.codes(cat, ("PERM", "FIXD", "LNCH")),
        "Sessions": pa.array(np.nan_to_num(sess), type=pa.float64(), mask=np.isnan(sess)),
        "StartDate": w.dates(start.astype(np.int32)),
    }
    out[f"exclusions_{year}.parquet"] = w.write(tmp / f"exclusions_{year}.parquet", exclusions)
    return out


def _previous_school(rng, geo, people, pid, ncy, sch) -> np.ndarray:
    """A different school of the same phase in the pupil's LA (the school a mover left)."""
    la = geo.school_la[sch]
    phase = np.where(ncy >= 7, SECONDARY, PRIMARY)
    first, count = geo.school_start[la, phase], geo.school_count[la, phase]
    other = first + (sch - first + 1 + (rng.random(pid.size) * np.maximum(count - 1, 1)).astype(np.int64)) % count
    return np.where(count > 1, other, geo.pru[la])
