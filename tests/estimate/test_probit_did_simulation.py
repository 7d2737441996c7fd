"""Simulation (slow): probit_did against the linear DiD when a pass mark moves for everyone.

Run with:  pytest tests/estimate/test_probit_did_simulation.py -m slow -s   (figures are printed and
recorded in docs/validation/probit-did.md).

KS4-like cohorts: a new cross-section of pupils each year (2 pre, 2 post), 30% treated, whose latent
score sits 0.8 sd below the comparison pupils'. A pupil passes when latent + LA shock >= the year's mark,
which falls by 0.6 sd after the policy (grading that passes more pupils). The effect raises the treated
post pupils' latent score by 0.15. Parallel trends hold in the latent index, not in the pass rate.
Scenarios: "normal" (the probit is right), "logistic" errors (scaled to sd 1), and treated pupils'
latent sd 1.3 against 1.0 ("unequal sd": parallel trends hold in the mean, the probit's index is not
shared).
"""
import numpy as np
import polars as pl
import pytest

from impact.estimate import did, probit_did

pytestmark = pytest.mark.slow

MARK = {0: 0.0, 1: 0.05, 2: -0.55, 3: -0.6}  # year -> pass mark (post from year 2)


def _cohorts(rng, scenario, n=4000, las=40, effect=0.15):
    la = rng.integers(0, las, n)
    year = rng.integers(0, 4, n)
    d = (rng.random(n) < 0.3).astype(np.int64)
    post = (year >= 2).astype(np.int64)
    if scenario == "logistic":
        noise = rng.logistic(size=n) * np.sqrt(3) / np.pi
    else:
        noise = rng.normal(size=n) * np.where((scenario == "unequal sd") & (d == 1), 1.3, 1.0)
    shock = rng.normal(scale=0.15, size=(las, 4))[la, year]
    latent0 = 0.6 - 0.8 * d + noise + shock
    mark = np.array([MARK[y] for y in range(4)])[year]
    y0 = (latent0 >= mark).astype(np.int64)
    y1 = (latent0 + effect >= mark).astype(np.int64)
    y = np.where((d == 1) & (post == 1), y1, y0)
    return pl.DataFrame({"la": la, "year": year, "d": d, "post": post, "y": y, "effect": y1 - y0})


@pytest.mark.parametrize("scenario", ["normal", "logistic", "unequal sd"])
def test_probit_did_bias_and_coverage(scenario):
    rng = np.random.default_rng(20261123)
    reps, rows = 500, []
    for _ in range(reps):
        df = _cohorts(rng, scenario)
        truth = df.filter((pl.col("d") == 1) & (pl.col("post") == 1))["effect"].mean()
        p = probit_did(df, "y", "d", "post", fixed_effects="year", cluster="la").terms[0]
        lin = did(df, "y", "d", "post", fixed_effects="year", cluster="la").terms[0]
        rows.append((truth, p.estimate, p.std_error, p.ci_low, p.ci_high, lin.estimate, lin.ci_low, lin.ci_high))
    r = pl.DataFrame(rows, schema=["truth", "est", "se", "lo", "hi", "lin", "lin_lo", "lin_hi"], orient="row")
    pop = r["truth"].mean()  # the population ATT: the mean of the samples' realised ATTs
    bias, mc = (r["est"] - r["truth"]).mean(), (r["est"] - r["truth"]).std() / np.sqrt(reps)
    cover = ((r["lo"] <= r["truth"]) & (r["truth"] <= r["hi"])).mean()
    cover_pop = ((r["lo"] <= pop) & (pop <= r["hi"])).mean()
    lin_bias = (r["lin"] - r["truth"]).mean()
    lin_cover = ((r["lin_lo"] <= r["truth"]) & (r["truth"] <= r["lin_hi"])).mean()
    print(f"\n{scenario}: reps={reps} truth={pop:+.5f} probit bias={bias:+.5f} (MC se {mc:.5f}) sd={r['est'].std():.5f} "
          f"mean se={r['se'].mean():.5f} coverage={cover:.3f} (population {cover_pop:.3f}) | linear DiD "
          f"bias={lin_bias:+.5f} coverage={lin_cover:.3f}")
    if scenario == "normal":  # the probit's assumptions hold
        assert abs(bias) < 3 * mc
        assert 0.93 <= cover_pop <= 0.97
        assert abs(lin_bias) > 10 * mc and lin_cover < 0.5  # the linear DiD reads the moving mark as an effect
