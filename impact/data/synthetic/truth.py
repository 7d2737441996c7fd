"""Ground truth: planted effects with their definitions, realised sample ATTs and cohort counts."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .config import GENERATOR_VERSION, LOOKBACK, POLICY_YEAR, PlantedEffects

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
}


@dataclass
class Truth:
    """Accumulates what ground_truth.json reports while the generator runs."""

    effects: PlantedEffects
    files: dict[str, int] = field(default_factory=dict)
    _sums: dict = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    _counts: dict = field(default_factory=dict)
    _clip: dict = field(default_factory=lambda: defaultdict(int))

    def _acc(self, group: str, year: int, name: str, diff: np.ndarray) -> None:
        s = self._sums[group]
        s[(year, name, "n")] += diff.size
        s[(year, name, "sum")] += float(np.sum(diff, dtype=np.float64))

    def add_absence(self, year: int, draw, d_vsh: np.ndarray, pp: np.ndarray) -> None:
        total = draw.possible.sum(axis=1)
        self._clip["absence_pupil_years"] += total.size
        self._clip["absence_clipped"] += draw.clipped
        for group, mask in (("vsh", d_vsh), ("pp_plus", pp)):
            m = mask & (total > 0)
            if not m.any():
                continue
            t = total[m].astype(np.float64)
            a1, u1, a0, u0 = draw.auth[m], draw.unauth[m], draw.auth0[m], draw.unauth0[m]
            r1, r0 = (a1 + u1) / t, (a0 + u0) / t
            self._acc(group, year, "overall_absence_rate", r1 - r0)
            self._acc(group, year, "authorised_absence_rate", (a1 - a0) / t)
            self._acc(group, year, "unauthorised_absence_rate", (u1 - u0) / t)
            self._acc(group, year, "persistent_absence", (r1 >= 0.10).astype(float) - (r0 >= 0.10))
            self._acc(group, year, "severe_absence", (r1 >= 0.50).astype(float) - (r0 >= 0.50))
            self._acc(group, year, "expected_absence_rate",
                      draw.expected1[m].astype(np.float64) - draw.expected0[m])

    def add_ks4(self, year: int, ks4, d: np.ndarray) -> None:
        self._clip["ks4_pupils"] += d.size
        self._clip["ks4_clipped"] += ks4.clipped
        if d.any():
            self._acc("vsh", year, "attainment8", ks4.a8[d] - ks4.a8_0[d])
            self._acc("vsh", year, "l2basics_94", ks4.em94[d].astype(float) - ks4.em94_0[d])
            self._acc("vsh", year, "l2basics_95", ks4.em95[d].astype(float) - ks4.em95_0[d])

    def add_eet(self, years: np.ndarray, eet1: np.ndarray, eet0: np.ndarray) -> None:
        for y in np.unique(years):
            m = years == y
            self._acc("pp_plus", int(y), "eet", eet1[m].astype(float) - eet0[m])

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
