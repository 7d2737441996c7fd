"""Ground truth: planted effects with their definitions, realised sample ATTs, cohort counts and the
per-unit individual effects (written through `UnitEffects`)."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .config import GENERATOR_VERSION, LOOKBACK, POLICY_YEAR, PlantedEffects
from .unit_effects import UnitEffects

_DEFINITIONS = {
    "vsh_treated": (
        "pupils on the spring census of academic year Y >= 2022 who are ever6_cwsw and not ever6_cla at that "
        "census (docs/explanation/definitions.md: episode-based, linkable rows only, NFA and RC8 excluded, "
        "look-back 6 years)"
    ),
    "vsh_absence": (
        "additive shift of the pupil-year expected overall absence rate (sessions / sessions possible, "
        "all enrolments summed, every NC year on roll R-13) by effects.absence x dynamic multiplier; "
        "a share effects.absence_unauthorised_share goes to unauthorised absence"
    ),
    "vsh_ks4": (
        "additive shift of the expected Attainment 8 score of treated pupils in Year 11 (KS4 year Y) by "
        "effects.attainment8 x dynamic multiplier; the English-and-maths latent score shifts by the same amount"
    ),
    "pp_treated": (
        "care-leaver rows at ages 17-18 (in touch) whose CLA_LA is in the PP+ pilot from its FirstYear; "
        "pupils in NC years 12-13 looked after on or after their 16th birthday whose care LA is in the pilot"
    ),
    "pp_eet": "additive shift of the probability that CLA_ACTIV is an F*/P* (EET) code",
    "pp_absence": "additive shift of the expected absence rate of the PP+ pupils above",
    "realised_att": (
        "mean over exactly the treated post units of Y(1) - Y(0), both potential outcomes drawn on common "
        "random numbers (binomial thinning/adding for sessions, shared noise for scores, one uniform per "
        "binary outcome); rates are per pupil-year (overall / possible), PA = rate >= 0.10, severe >= 0.50"
    ),
    "individual_effects": (
        "ground_truth/vsh_attendance.parquet, vsh_ks4.parquet, pp_plus.parquet: one row per treated post unit "
        "of realised_att (vsh, vsh, pp_plus eet) with its Y(1) - Y(0), keyed as the attendance, KS4 and "
        "post-16 panels key it; every other unit's effect is 0; yearly column means equal realised_att"
    ),
}


def absence_effects(draw, mask: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Rows of `mask` with sessions possible and their Y(1) - Y(0) of each absence outcome as the panel
    defines it (the pupil-year's sessions over all enrolments / possible; PA rate >= 0.10, severe >= 0.50)."""
    total = draw.possible.sum(axis=1)
    rows = np.flatnonzero(mask & (total > 0))
    t = total[rows].astype(np.float64)
    a1, u1, a0, u0 = draw.auth[rows], draw.unauth[rows], draw.auth0[rows], draw.unauth0[rows]
    m1, m0 = a1 + u1, a0 + u0
    return rows, {
        "overall_absence_rate": m1 / t - m0 / t,
        "authorised_absence_rate": (a1 - a0) / t,
        "unauthorised_absence_rate": (u1 - u0) / t,
        # integer comparisons, as the panel SQL makes them (exactly 10% is persistent)
        "persistent_absence": ((10 * m1 >= t).astype(np.int8) - (10 * m0 >= t)).astype(np.int8),
        "severe_absence": ((2 * m1 >= t).astype(np.int8) - (2 * m0 >= t)).astype(np.int8),
    }


def ks4_effects(ks4, d: np.ndarray) -> dict[str, np.ndarray]:
    """Y(1) - Y(0) of Attainment 8 and English and maths 9-4 / 9-5 of the pupils of `d`."""
    return {
        "att8": ks4.a8[d] - ks4.a8_0[d],
        "em94": ks4.em94[d].astype(np.int8) - ks4.em94_0[d].astype(np.int8),
        "em95": ks4.em95[d].astype(np.int8) - ks4.em95_0[d].astype(np.int8),
    }


@dataclass
class Truth:
    """Accumulates what ground_truth.json reports while the generator runs; with `units`, also writes
    each VSH and PP+ treated post unit's individual effects to ground_truth/ (the same numbers)."""

    effects: PlantedEffects
    units: UnitEffects | None = None
    files: dict[str, int] = field(default_factory=dict)
    _sums: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    _counts: dict = field(default_factory=dict)
    _clip: dict = field(default_factory=lambda: defaultdict(int))

    def _acc(self, group: str, year: int, name: str, diff: np.ndarray) -> None:
        s = self._sums[group]
        s[(year, name, "n")] += diff.size
        s[(year, name, "sum")] += float(np.sum(diff, dtype=np.float64))

    def add_absence(self, year: int, draw, d_vsh: np.ndarray, pp: np.ndarray, pupils: np.ndarray) -> None:
        """`pupils`: the person index of each row of `draw`."""
        self._clip["absence_pupil_years"] += draw.possible.shape[0]
        self._clip["absence_clipped"] += draw.clipped
        for group, mask in (("vsh", d_vsh), ("pp_plus", pp)):
            rows, effects = absence_effects(draw, mask)
            if not rows.size:
                continue
            for name, diff in effects.items():
                self._acc(group, year, name, diff)
            self._acc(group, year, "expected_absence_rate",
                      draw.expected1[rows].astype(np.float64) - draw.expected0[rows])
            if group == "vsh" and self.units is not None:
                self.units.attendance(year, pupils[rows], effects)

    def add_ks4(self, year: int, ks4, d: np.ndarray, pupils: np.ndarray) -> None:
        """`pupils`: the person index of each Year 11 row of `ks4`."""
        self._clip["ks4_pupils"] += d.size
        self._clip["ks4_clipped"] += ks4.clipped
        if d.any():
            effects = ks4_effects(ks4, d)
            for name, key in (("att8", "attainment8"), ("em94", "l2basics_94"), ("em95", "l2basics_95")):
                self._acc("vsh", year, key, effects[name])
            if self.units is not None:
                self.units.ks4(year, pupils[d], effects)

    def add_eet(self, years: np.ndarray, eet1: np.ndarray, eet0: np.ndarray, la: np.ndarray,
                child_id: np.ndarray) -> None:
        """Treated care-leaver returns: collection year, EET under Y(1) and Y(0), LA code and child id token."""
        effect = eet1.astype(np.int8) - eet0.astype(np.int8)
        for y in np.unique(years):
            self._acc("pp_plus", int(y), "eet", effect[years == y])
        if self.units is not None:
            self.units.post16(la, child_id, years, {"eet": effect})

    def add_counts(self, year: int, pupils: int, treated: np.ndarray, ever6_cwsw: np.ndarray,
                   comparison: np.ndarray, ever6_cla: np.ndarray, pp_units: int) -> None:
        self._counts[year] = {
            "pupils": int(pupils), "treated": int(treated.sum()), "comparison": int(comparison.sum()),
            "ever6_cwsw": int(ever6_cwsw.sum()), "ever6_cla": int(ever6_cla.sum()), "pp_plus_pupils": int(pp_units),
        }

    def realised(self) -> dict:
        out: dict = {}
        for group, s in self._sums.items():
            names = sorted({k[1] for k in s})
            g = out.setdefault(group, {})
            for name in names:
                years = sorted(k[0] for k in s if k[1] == name and k[2] == "n")
                by_year = {str(y): {"att": s[(y, name, "sum")] / s[(y, name, "n")] if s[(y, name, "n")] else None,
                                    "n": int(s[(y, name, "n")])} for y in years}
                n = sum(s[(y, name, "n")] for y in years)
                g[name] = {"att": sum(s[(y, name, "sum")] for y in years) / n if n else None, "n": int(n),
                           "by_year": by_year}
        return out

    def to_dict(self, arguments: dict) -> dict:
        return {
            "generator": "impact.data.synthetic",
            "generator_version": GENERATOR_VERSION,
            "arguments": arguments,
            "policy_year": POLICY_YEAR,
            "lookback_years": LOOKBACK,
            "planted_effects": self.effects.to_dict(),
            "definitions": _DEFINITIONS,
            "realised_att": self.realised(),
            "cohort_counts": {
                "rule": ("spring census pupils (unique PupilMatchingRefAnonymous); treated = ever6_cwsw and not "
                         "ever6_cla; comparison = EVERFSM_6 = 1 and not ever6_cwsw; CIN/CPP/CLA intervals from "
                         "rows with a PMR, one interval per episode (latest row wins), NFA and RC8 excluded"),
                "by_year": {str(y): v for y, v in sorted(self._counts.items())},
            },
            "clipping": {
                "absence_expected_rate_clipped_share": self._clip["absence_clipped"] / max(1, self._clip["absence_pupil_years"]),
                "ks4_attainment8_clipped_share": self._clip["ks4_clipped"] / max(1, self._clip["ks4_pupils"]),
            },
            "files": self.files,
        }
