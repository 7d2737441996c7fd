"""Slow simulation studies: bias and 95% CI coverage of the design + effect pipeline (known ATT = 1)."""
from __future__ import annotations

import numpy as np
import pytest

from impact.design import match, weight

from .simulate import COVARIATES, selection_on_observables

REPS = 1000
N = 2000
SEED0 = 20240


def _run(make_estimate):
    est, covered, se = [], [], []
    for r in range(REPS):
        df = selection_on_observables(N, SEED0 + r)
        term = make_estimate(df).terms[0]
        est.append(term.estimate)
        se.append(term.std_error)
        covered.append(term.ci_low <= 1.0 <= term.ci_high)
    est = np.array(est)
    return float(est.mean() - 1.0), float(np.mean(covered)), float(est.std(ddof=1)), float(np.mean(se))


CASES = {
    "nearest_without_replacement": lambda df: match(df, "t", COVARIATES, caliper=0.2).effect("y", covariates=COVARIATES),
    "nearest_with_replacement": lambda df: match(df, "t", COVARIATES, replace=True).effect("y", covariates=COVARIATES),
    "ipw_att": lambda df: weight(df, "t", COVARIATES).effect("y"),
    "ipw_att_adjusted": lambda df: weight(df, "t", COVARIATES).effect("y", covariates=COVARIATES),
    "aipw_att": lambda df: weight(df, "t", COVARIATES).aipw("y"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_coverage_and_bias(case):
    bias, coverage, sd, mean_se = _run(CASES[case])
    print(f"{case}: reps={REPS} n={N} bias={bias:.4f} coverage={coverage:.3f} sd={sd:.4f} mean_se={mean_se:.4f}")
    assert abs(bias) < 0.2 * sd  # bias small relative to the sampling SD
    assert 0.93 <= coverage <= 0.97
