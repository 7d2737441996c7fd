"""Settings of the synthetic NPD: planted effects (public) and calibration constants (internal).

Every rate below is a proportion (0.047 = 4.7%). Year-keyed tables use the academic year's
end (2019 = 2018/19). Targets come from ../shared/brief/npd-reference.md section 11; values
marked [U] there are our guesses.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from ...errors import ParameterError
from ...params import check_number

GENERATOR_VERSION = "1.1.0"
POLICY_YEAR = 2022  # first academic year under the VSH extension (2021/22)
LOOKBACK = 6


@dataclass(frozen=True)
class PlantedEffects:
    """Effects planted by design; every one can be set to zero.

    VSH extension (from academic year 2022, i.e. 2021/22), for pupils who are Ever6 CWSW and not
    ever6_cla at that year's spring census (definitions.md, episode-based, linkable rows only):

    - ``absence``: additive shift of the expected overall absence rate (-0.010 = -1 pp), split
      ``absence_unauthorised_share`` to unauthorised and the rest to authorised absence.
    - ``attainment8``: additive shift of the expected Attainment 8 score at KS4 (points); the
      English-and-maths latent score moves by the same amount, so grade 4+/5+ move through it.
    - ``dynamic``: multipliers of both effects by year of exposure (2022, 2023, ...); the last one
      carries forward.

    Post-16 Pupil Premium Plus pilot, by LA wave (from the LA's first pilot year), for
    looked-after children and care leavers aged 16-18 of a pilot LA:

    - ``pp_eet``: additive shift of the probability of being in education, employment or
      training at the 17th/18th-birthday care-leaver return.
    - ``pp_absence``: additive shift of the expected absence rate of pupils in NC years 12-13
      who were looked after on or after their 16th birthday.
    """

    absence: float = -0.010
    absence_unauthorised_share: float = 0.5
    attainment8: float = 1.0
    dynamic: tuple[float, ...] = (1.0,)
    pp_eet: float = 0.05
    pp_absence: float = -0.010

    def __post_init__(self) -> None:
        owner = "PlantedEffects"
        check_number(owner, "absence", self.absence, low=-0.05, high=0.05)
        check_number(owner, "absence_unauthorised_share", self.absence_unauthorised_share, low=0.0, high=1.0)
        check_number(owner, "attainment8", self.attainment8, low=-10.0, high=10.0)
        check_number(owner, "pp_eet", self.pp_eet, low=-0.3, high=0.3)
        check_number(owner, "pp_absence", self.pp_absence, low=-0.05, high=0.05)
        dyn = self.dynamic
        if not isinstance(dyn, (tuple, list)) or not dyn or any(
            isinstance(m, bool) or not isinstance(m, (int, float)) or not (0 <= m <= 5) for m in dyn
        ):
            raise ParameterError(
                "The 'dynamic' parameter of PlantedEffects must be a non-empty sequence of floats in [0, 5]. "
                f"Got {dyn!r} instead."
            )
        object.__setattr__(self, "dynamic", tuple(float(m) for m in dyn))

    def multiplier(self, year: int) -> float:
        """The dynamic multiplier for academic year `year` (0 before the policy)."""
        if year < POLICY_YEAR:
            return 0.0
        k = min(year - POLICY_YEAR, len(self.dynamic) - 1)
        return self.dynamic[k]

    @classmethod
    def zero(cls) -> "PlantedEffects":
        """All effects set to zero."""
        return cls(absence=0.0, attainment8=0.0, pp_eet=0.0, pp_absence=0.0)

    def to_dict(self) -> dict:
        return asdict(self)


# --- national FSM % at the January census (npd-reference s.11; before 2018 [U]) ---------
FSM_RATE = {
    **{y: 0.180 for y in range(1990, 2014)},
    2014: 0.163, 2015: 0.143, 2016: 0.143, 2017: 0.140, 2018: 0.136, 2019: 0.154,
    2020: 0.173, 2021: 0.208, 2022: 0.225, 2023: 0.238, 2024: 0.246, 2025: 0.257, 2026: 0.26,
}
UC_PROTECTION_FROM = 2019  # first spring census after 1 April 2018

# --- absence: additive year shifts of the expected rate (all pupils ~ 4.7% in 2018/19) ---
# The shift of a pupil-year is ABSENCE_YEAR_SHIFT[year] + the ABSENCE_GROUP_SHIFT[year] terms of
# the pupil's OBSERVED spring-census status that year (FSMeligible; SENprovision K or E), so it is
# a function of (year, FSM, SEN) only: a design with year x FSM x SEN fixed effects absorbs it.
ABSENCE_YEAR_SHIFT = {
    **{y: 0.000 for y in range(1990, 2017)},
    2017: 0.001, 2018: 0.002, 2019: 0.001, 2020: 0.004, 2021: 0.000,
    2022: 0.0195, 2023: 0.0185, 2024: 0.016, 2025: 0.014, 2026: 0.014,
}
# extra rise for FSM-eligible, SEN support (K), EHC plan (E), and in care at the census (which
# replaces the FSM and SEN terms; such pupils are ever6_cla, outside the default groups)
_POST_COVID_GROUP_SHIFT = (0.004, 0.035, 0.045, 0.010)
ABSENCE_GROUP_SHIFT = {
    **{y: (0.0, 0.0, 0.0, 0.0) for y in range(1990, 2022)},
    **{y: _POST_COVID_GROUP_SHIFT for y in range(2022, 2027)},
}
ABSENCE_UNAUTH_YEAR_SHARE = 0.35  # share of each year shift that is unauthorised absence
# share of the linear NC-year (age) term that is unauthorised absence, the same for every pupil (about the
# population mean of the pupils' own unauthorised shares, 0.246 at seed 1)
ABSENCE_UNAUTH_AGE_SHARE = 0.25
# sessions possible per term (Summer = 5th half term, Summer6th = 6th half term): ~380 a year
SESSIONS = {"Autumn": 140, "Spring": 120, "Summer": 60, "Summer6th": 60}

# --- suspensions: additive year term of P(any suspension) (>= 0; lowest in the 2019/20 closures) ---
SUSPENSION_YEAR_SHIFT = {
    **{y: 0.004 for y in range(1990, 2020)},
    2020: 0.000, 2021: 0.002, 2022: 0.006, 2023: 0.010, 2024: 0.011, 2025: 0.011, 2026: 0.011,
}

# --- KS4 Attainment 8: additive year shifts (CAG 2020, TAG 2021, transition 2022) --------
A8_YEAR_SHIFT = {
    **{y: 0.8 for y in range(1990, 2017)},
    2017: -0.3, 2018: -0.2, 2019: 0.0, 2020: 3.5, 2021: 4.2, 2022: 2.1, 2023: -0.5,
    2024: -0.6, 2025: -0.8, 2026: -0.8,
}
EM94_RATE = {**{y: 0.63 for y in range(1990, 2019)}, 2019: 0.646, 2020: 0.712, 2021: 0.722,
             2022: 0.688, 2023: 0.648, 2024: 0.65, 2025: 0.65, 2026: 0.65}
EM95_RATE = {**{y: 0.43 for y in range(1990, 2019)}, 2019: 0.432, 2020: 0.498, 2021: 0.52,
             2022: 0.50, 2023: 0.45, 2024: 0.46, 2025: 0.46, 2026: 0.46}
NO_KS2_YEARS = (2020, 2021)
NO_P8_YEARS = (2020, 2021, 2025)


@dataclass(frozen=True)
class Calibration:
    """Internal model constants, tuned so docs/validation/calibration.md passes."""

    stay_on_share: float = 0.40  # Y11 pupils staying on into a school sixth form
    noncensus_share: float = 0.07  # children never in a state school (independent, home educated)
    dual_share: float = 0.025  # pupils with a subsidiary dual registration
    school_move: float = 0.015  # within-LA school moves per pupil-year
    la_move: float = 0.005  # LA moves per child-year
    fsm_loading: float = 0.80  # weight of latent disadvantage in the FSM latent index
    fsm_persistence: float = 0.78  # AR(1) coefficient of the FSM shock
    uc_protected_share: float = 0.55  # share of newly eligible pupils whose eligibility is UC-protected
    # social care hazard (log scale)
    cin_base: float = -5.6
    cin_age: tuple = field(default_factory=lambda: (0.9, 0.15, 0.15, 0.15, 0.15, 0.0, 0.0, 0.0, 0.0, 0.0,
                                                    0.1, 0.15, 0.2, 0.2, 0.2, 0.15, 0.0, -0.2))
    cin_disadvantage: float = 0.65
    cin_fsm: float = 0.2
    cin_sen: float = 0.35
    cin_prior: float = 0.20  # per SD of (lower) latent ability / prior attainment
    cin_idaci: float = 1.2
    cin_la_sd: float = 0.25
    cin_frailty_sd: float = 1.4
    cin_repeat: float = 0.9  # log-hazard boost after a previous episode
    nfa_share: float = 0.08
    rc8_share: float = 0.30
    cpp_share: float = 0.135
    cla_share: tuple = field(default_factory=lambda: (0.15, 0.06, 0.04, 0.06, 0.05))  # ages 0,1-4,5-9,10-15,16-17
    cin_days_median: float = 230.0
    cpp_days_median: float = 240.0
    cla_days_median: float = 600.0
    young_link: float = 0.15  # share of episodes of under-5s that carry a PMR
    # absence person effect
    abs_floor: float = 0.006
    abs_scale: float = 0.025
    abs_shape: float = 2.0
    abs_disadvantage: float = 0.38
    abs_frailty: float = 0.30
    abs_sen: float = 0.12
    abs_refuser_share: float = 0.022
    abs_refuser_shift: float = 0.43
    abs_age_slope: float = 0.0015  # per NC year (linear, so it cancels in a balanced panel DiD)
    abs_transitory_sd: float = 0.50
    abs_year_shape: float = 0.20  # year shift = common mean x 3 Beta(shape, 2 shape) per pupil-year
    cla_absence: float = 0.80  # share of the regular pupil effect removed while looked after at the census
    cla_refusal_stop: float = 0.25  # chance that a school refuser does not refuse in a year spent in care
    # attainment
    a8_mean: float = 47.0
    a8_ability: float = 13.0
    a8_disadvantage: float = -1.8
    a8_frailty: float = -10.5
    a8_noise: float = 7.0
    em_noise: float = 6.0
    ebacc_base: float = -0.65
    # exclusions: P(any suspension) = propensity (mean susp_level, capped) + phase term + year term
    susp_level: float = 0.012
    susp_cap: float = 0.5
    susp_secondary: float = 0.030
    susp_sixth_form: float = 0.010
    susp_spread: float = 1.25  # multiplier of the risk index in the propensity (higher: more concentrated)
    perm_base: float = -10.0
