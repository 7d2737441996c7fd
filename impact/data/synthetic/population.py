"""Local authorities, schools and the child population (birth cohorts), as compact numpy arrays."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..contracts import ETHNIC_MAJOR, ETHNIC_MINOR, REGIONS
from .config import Calibration
from .dates import birthday

N_LA = 152
PRIMARY, SECONDARY = 0, 1
PRU_ESTAB = 1100

# minor ethnic groups: share of pupils, major group, share with a first language other than English
_ETHNIC = {
    "WBRI": (0.655, "WHIT", 0.01), "WIRI": (0.003, "WHIT", 0.01), "WIRT": (0.002, "WHIT", 0.05),
    "WOTH": (0.060, "WHIT", 0.70), "WROM": (0.004, "WHIT", 0.60), "MWBC": (0.016, "MIXD", 0.05),
    "MWBA": (0.008, "MIXD", 0.10), "MWAS": (0.012, "MIXD", 0.10), "MOTH": (0.020, "MIXD", 0.15),
    "AIND": (0.034, "ASIA", 0.70), "APKN": (0.045, "ASIA", 0.80), "ABAN": (0.018, "ASIA", 0.85),
    "AOTH": (0.022, "ASIA", 0.75), "BCRB": (0.006, "BLAC", 0.02), "BAFR": (0.045, "BLAC", 0.50),
    "BOTH": (0.008, "BLAC", 0.30), "CHNE": (0.005, "CHIN", 0.70), "OOTH": (0.020, "AOEG", 0.70),
    "REFU": (0.010, "UNCL", 0.20), "NOBT": (0.007, "UNCL", 0.30),
}
assert tuple(_ETHNIC) == ETHNIC_MINOR
ETH_MINOR_TO_MAJOR = np.array([ETHNIC_MAJOR.index(v[1]) for v in _ETHNIC.values()], dtype=np.int8)


def token(ids: np.ndarray, salt: int, width: int = 16) -> np.ndarray:
    """Deterministic anonymised-looking ids: a bijective 64-bit mix of (id, salt) as upper-case hex."""
    x = ids.astype(np.uint64) ^ np.uint64((salt * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    hexdig = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
    shifts = np.arange(60, 60 - 4 * width, -4, dtype=np.uint64)
    nib = ((x[:, None] >> shifts[None, :]) & np.uint64(15)).astype(np.uint8)
    return np.ascontiguousarray(hexdig[nib]).view(f"S{width}").ravel()


@dataclass
class Geography:
    """152 LAs with codes, names, regions and size weights; schools nested in LAs."""

    la_code: np.ndarray  # int16 3-digit codes
    la_9code: list[str]
    la_name: list[str]
    la_region: list[str]
    la_weight: np.ndarray  # share of children
    la_effect: np.ndarray  # social-care hazard shift (log scale)
    la_idaci: np.ndarray  # deprivation shift of the LA
    pilot_year: np.ndarray  # first PP+ pilot academic year per LA
    school_start: np.ndarray  # [la, phase] index of the first school
    school_count: np.ndarray  # [la, phase]
    pru: np.ndarray  # [la] index of the LA's pupil referral unit
    school_la: np.ndarray  # [school] LA index
    school_laestab: np.ndarray  # int32
    school_urn: np.ndarray  # int32


def build_geography(rng: np.random.Generator, pupils: int, cal: Calibration) -> Geography:
    w = np.exp(rng.normal(0.0, 0.6, N_LA))
    w[np.argsort(w)[-3:]] *= 1.8  # a few very large counties / cities
    w[np.argsort(w)[:2]] = 0.01 * np.median(w)  # two tiny authorities
    w = w / w.sum()
    london = np.r_[np.arange(201, 214), np.arange(301, 321)]  # 33 London codes
    others = rng.choice(np.setdiff1d(np.arange(330, 940), london), N_LA - london.size, replace=False)
    codes = np.sort(np.r_[london, others]).astype(np.int16)
    is_london = np.isin(codes, london)
    kinds = np.where(is_london, "E09", rng.choice(["E06", "E08", "E10"], N_LA, p=[0.52, 0.30, 0.18]))
    nine, names = [], []
    serial: dict[str, int] = {}
    for i in range(N_LA):
        serial[kinds[i]] = serial.get(kinds[i], 0) + 1
        nine.append(f"{kinds[i]}{serial[kinds[i]]:06d}")
        names.append(f"Authority {int(codes[i])}")
    non_london = [r for r in REGIONS if r != "London"]
    fill = rng.integers(0, len(non_london), N_LA)
    regions = ["London" if is_london[i] else non_london[fill[i]] for i in range(N_LA)]
    pilot = np.empty(N_LA, dtype=np.int16)
    order = rng.permutation(N_LA)
    pilot[order[:30]], pilot[order[30:58]], pilot[order[58:]] = 2022, 2023, 2024
    # schools: ~250 pupils per primary, ~1000 per secondary, one PRU per LA
    per_la = w * pupils
    n_pri = np.maximum(1, np.round(per_la * 7 / 12.8 / 250)).astype(np.int64)
    n_sec = np.maximum(1, np.round(per_la * 5.8 / 12.8 / 1000)).astype(np.int64)
    counts = np.stack([n_pri, n_sec, np.ones(N_LA, np.int64)], axis=1)
    flat = counts.ravel()
    start = (np.cumsum(flat) - flat).reshape(N_LA, 3)
    school_la = np.repeat(np.repeat(np.arange(N_LA), 3), flat).astype(np.int16)
    within = np.arange(flat.sum()) - np.repeat(start.ravel(), flat)
    phase = np.repeat(np.tile(np.arange(3), N_LA), flat)
    estab = np.choose(phase, [2001 + within, 4001 + within, np.full_like(within, PRU_ESTAB)])
    laestab = (codes[school_la].astype(np.int32) * 10000 + estab).astype(np.int32)
    urn = (100000 + rng.permutation(flat.sum())).astype(np.int32)
    return Geography(
        la_code=codes, la_9code=nine, la_name=names, la_region=regions, la_weight=w,
        la_effect=rng.normal(0.0, cal.cin_la_sd, N_LA).astype(np.float32),
        la_idaci=rng.normal(0.0, 0.45, N_LA).astype(np.float32), pilot_year=pilot,
        school_start=start[:, :2].copy(), school_count=counts[:, :2].copy(), pru=start[:, 2].copy(),
        school_la=school_la, school_laestab=laestab, school_urn=urn,
    )


@dataclass
class People:
    """All children of the simulated birth cohorts (ordered by cohort), time-invariant attributes."""

    cohort: np.ndarray  # int16: academic year of birth k (reception in k + 5)
    cohort_start: dict[int, int]  # first person index of each cohort
    month: np.ndarray  # int8 month of birth
    dob: np.ndarray  # int32 days since 1970-01-01
    last_child_day: np.ndarray  # int32: the day before the 18th birthday (CIN and care end by then)
    sex: np.ndarray  # int8 1 male 2 female
    eth_minor: np.ndarray  # int8 index into ETHNIC_MINOR
    eal: np.ndarray  # int8 0 ENG 1 OTH 2 UNCL
    dis: np.ndarray  # latent disadvantage (unobserved)
    ability: np.ndarray  # latent ability (unobserved)
    frailty: np.ndarray  # latent family need (unobserved): drives social care and outcomes
    sen_latent: np.ndarray
    idaci: np.ndarray  # IDACI score 0-1
    noncensus: np.ndarray  # bool: never in a state school
    stays_on: np.ndarray  # bool: stays in a school sixth form after Y11
    uc: np.ndarray  # bool: FSM eligibility would be UC-protected
    la: np.ndarray  # int16 current LA index (changes with moves)

    @property
    def n(self) -> int:
        return self.cohort.size

    def slice_of(self, k_lo: int, k_hi: int) -> slice:
        """Persons of cohorts k_lo..k_hi (inclusive); cohorts are contiguous."""
        ks = sorted(self.cohort_start)
        lo = self.cohort_start[max(k_lo, ks[0])]
        hi = self.cohort_start[k_hi + 1] if k_hi + 1 in self.cohort_start else self.n
        return slice(lo, hi)


def build_people(rng: np.random.Generator, geo: Geography, k_first: int, k_last: int,
                 cohort_size: int, cal: Calibration) -> People:
    ncoh = k_last - k_first + 1
    n = ncoh * cohort_size
    cohort = np.repeat(np.arange(k_first, k_last + 1, dtype=np.int16), cohort_size)
    month = rng.integers(1, 13, n).astype(np.int8)
    cal_year = cohort.astype(np.int32) - (month >= 9)
    months_since = (cal_year - 1970) * 12 + month.astype(np.int32) - 1
    dob = ((np.datetime64("1970-01", "M") + months_since.astype("timedelta64[M]")).astype("datetime64[D]")
           - np.datetime64("1970-01-01")).astype(np.int32) + rng.integers(0, 28, n).astype(np.int32)
    sex = rng.integers(1, 3, n).astype(np.int8)
    shares = np.array([v[0] for v in _ETHNIC.values()])
    eth = rng.choice(len(shares), n, p=shares / shares.sum()).astype(np.int8)
    p_eal = np.array([v[2] for v in _ETHNIC.values()])[eth]
    u = rng.random(n)
    eal = np.where(u < 0.005, 2, (u < p_eal).astype(np.int8)).astype(np.int8)
    la = rng.choice(N_LA, n, p=geo.la_weight).astype(np.int16)
    dis = (rng.standard_normal(n) + 0.6 * geo.la_idaci[la]).astype(np.float32)
    dis = (dis - dis.mean()) / dis.std()
    ability = (-0.35 * dis + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)).astype(np.float32)
    frailty = (0.35 * dis + np.sqrt(1 - 0.35**2) * rng.standard_normal(n)).astype(np.float32)
    sen_latent = (-0.55 * ability + 0.2 * dis + 0.15 * frailty + 0.75 * rng.standard_normal(n)).astype(np.float32)
    sen_latent = (sen_latent - sen_latent.mean()) / sen_latent.std()
    idaci = 1.0 / (1.0 + np.exp(-(-1.55 + 0.75 * dis + 0.35 * geo.la_idaci[la] + 0.45 * rng.standard_normal(n))))
    noncensus = rng.random(n) < cal.noncensus_share
    stays_on = rng.random(n) < 1.0 / (1.0 + np.exp(-(np.log(cal.stay_on_share / (1 - cal.stay_on_share)) + 0.8 * ability)))
    uc = rng.random(n) < cal.uc_protected_share
    starts = {int(k): i * cohort_size for i, k in enumerate(range(k_first, k_last + 1))}
    return People(
        cohort=cohort, cohort_start=starts, month=month, dob=dob, last_child_day=birthday(dob, 18) - 1, sex=sex, eth_minor=eth, eal=eal,
        dis=dis.astype(np.float32), ability=ability, frailty=frailty, sen_latent=sen_latent.astype(np.float32),
        idaci=np.round(idaci, 3).astype(np.float32), noncensus=noncensus, stays_on=stays_on, uc=uc, la=la,
    )
