"""DiD for threshold outcomes (1[rate >= c]) assuming parallel trends in the rate, not in the indicator.

Persistent absence is 1[rate >= 0.10]. If the untreated *rates* of the two groups trend in parallel,
the untreated *indicators* do not when the groups have different mass near the threshold, so the
DiD on the indicator is biased. Here the effect on the rate is taken as additive, Y(0) = Y(1) - tau,
on the treated post rows (T1), so the ATT on the indicator is

    theta = mean_T1 { 1[Y >= c] - 1[Y - tau >= c] },

estimated with tau_hat, the rate DiD of did() (same fixed effects, covariates, weights, sample), and
the indicator smoothed over one grid step of the rates (see threshold_effect: rates on a grid of
whole sessions make the sharp plug-in a staircase in tau). Inference is the delta method,
joint with tau_hat, on per-cluster influence functions:

    theta_hat - theta ~= mean_T1(d_i - theta) + f(c + tau) (tau_hat - tau),

f the density of the treated post rates (a Gaussian kernel estimate at c + tau_hat).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy.special import ndtr

from ..errors import EstimationError, ParameterError
from ..params import check_number
from ..results import EffectResult, Term
from ._inputs import Sample
from .did import fit_did
from .event_study import EventStudyResult, _joint_wald, fit_event_study
from .ols import OLSFit
from .vcov import sandwich

INFERENCE = ("cluster", "robust")
#: "At or above the threshold" as the SQL defines PA/SA, with room for floating-point error (0.1 = 38/380),
#: in the unsmoothed plug-in reported beside the estimate.
TOL = 1e-12


@dataclass(frozen=True)
class ThresholdEffect:
    """theta_hat for one rate coefficient, its per-row influence contributions, and the density facts behind it."""

    theta: float
    psi: np.ndarray  # per-row contribution to theta_hat - theta (sums over clusters give the influence)
    tau: float
    tau_std_error: float
    density: float
    bandwidth: float
    grid_spacing: float
    share_near: float
    theta_unsmoothed: float  # the sharp plug-in mean of 1[y >= c] - 1[y - tau_hat >= c], for comparison

    def facts(self) -> dict[str, float]:
        return {"tau": self.tau, "tau_std_error": self.tau_std_error, "density": self.density,
                "bandwidth": self.bandwidth, "grid_spacing": self.grid_spacing, "share_near": self.share_near,
                "theta_unsmoothed": self.theta_unsmoothed}


def threshold_did(
    data: Any,
    rate: str,
    threshold: float,
    treatment: str,
    post: str,
    *,
    unit: str | None = None,
    time: str | None = None,
    fixed_effects: str | list[str] | None = None,
    covariates: str | list[str] | None = None,
    weights: str | np.ndarray | None = None,
    cluster: str | list[str] | None = None,
    inference: str = "cluster",
) -> EffectResult:
    """ATT on the indicator 1[`rate` >= `threshold`], assuming parallel trends and an additive effect in the rate.

    Arguments as did() (which fits the rate model); `rate` may be any numeric outcome (a proportion, a
    score). Assumes (1) parallel trends in the rate, as did() does, and (2) the same effect tau on the
    rate of every treated post row near the threshold (on average over whole-session rounding), so the
    counterfactual indicator is 1[rate - tau >= threshold]; the indicator is smoothed over thresholds
    within about one grid step of the rates (info "grid_spacing"; the sharp plug-in is info
    "theta_unsmoothed").
    Standard errors: delta method with cluster influence functions, joint in tau_hat and the mean over
    treated post rows, CR1-style G/(G-1) (two-way: Cameron-Gelbach-Miller; HC1-style with
    inference="robust"); the tau part carries did()'s (n-1)/(n-k) factor. They target the population
    ATT on the indicator and ignore the estimation error of the density (second order).
    """
    owner = "threshold_did"
    _check_threshold(owner, threshold)
    _check_inference(owner, inference)
    model = fit_did(
        owner, data, rate, treatment, post, unit=unit, time=time, fixed_effects=fixed_effects,
        covariates=covariates, weights=weights, cluster=cluster, inference=inference, keep_data=True,
    )
    y = _rate_on_sample(model.frame, rate, model.sample)
    _check_threshold_in_range(owner, rate, threshold, y)
    effect = threshold_effect(owner, y, model.treated & model.post, float(threshold), model.fit, "att", model.sample)
    v = influence_vcov(effect.psi[:, None], model.fit, model.sample)
    term = Term.from_estimate("att", effect.theta, float(np.sqrt(v[0, 0])), df=model.fit.df, **model.counts)
    info = {"rate": rate, "threshold": float(threshold), **effect.facts(), **model.info}
    return EffectResult("threshold_did", [term], info, [*model.notes, *_notes(rate, threshold, [effect])])


def threshold_event_study(
    data: Any,
    rate: str,
    threshold: float,
    treatment: str,
    time: str,
    treat_start: str | int | float,
    *,
    reference: int = -1,
    exclude_periods: Any = (),
    unit: str | None = None,
    fixed_effects: str | list[str] | None = None,
    covariates: str | list[str] | None = None,
    weights: str | np.ndarray | None = None,
    cluster: str | list[str] | None = None,
) -> EventStudyResult:
    """Per-period ATTs on 1[`rate` >= `threshold`] from the rate event study (arguments as event_study()).

    theta_e applies tau_hat_e, the rate coefficient of event time e, to the treated rows at e; pre-period
    thetas are placebos, the reference period has none. Same assumptions and inference as threshold_did,
    with one joint covariance of all theta_e (used for the pre-trend Wald test on the placebo thetas).
    """
    owner = "threshold_event_study"
    _check_threshold(owner, threshold)
    model = fit_event_study(
        owner, data, rate, treatment, time, treat_start=treat_start, reference=reference,
        exclude_periods=exclude_periods, unit=unit, fixed_effects=fixed_effects, covariates=covariates,
        weights=weights, cluster=cluster, keep_data=True,
    )
    y = _rate_on_sample(model.frame, rate, model.sample)
    _check_threshold_in_range(owner, rate, threshold, y)
    kept = model.estimated()
    effects = [threshold_effect(owner, y, model.rel == e, float(threshold), model.fit, nm, model.sample)
               for e, nm in kept]
    theta = np.array([ef.theta for ef in effects])
    v = influence_vcov(np.column_stack([ef.psi for ef in effects]), model.fit, model.sample)
    se = np.sqrt(np.diag(v))
    terms = [Term.from_estimate(nm, theta[k], se[k], **model.term_facts(e)) for k, (e, nm) in enumerate(kept)]
    pre = [k for k, (e, _) in enumerate(kept) if e < 0]
    pretrend = _joint_wald(theta[pre], v[np.ix_(pre, pre)], model.fit.df)
    by_term = {nm: ef.facts() for (_, nm), ef in zip(kept, effects)}
    result = model.result("threshold_event_study", terms, pretrend,
                          {"rate": rate, "threshold": float(threshold), "by_term": by_term})
    result.notes.extend(_notes(rate, threshold, effects))
    return result


def threshold_effect(
    owner: str, y: np.ndarray, rows: np.ndarray, threshold: float, fit: OLSFit, term: str, sample: Sample
) -> ThresholdEffect:
    """theta_hat, the weighted mean over `rows` of K((y - c)/g) - K((y - tau_hat - c)/g), and its influence.

    K is the Gaussian CDF and g the local grid spacing of the rates: the indicator 1[y >= c] averaged over
    thresholds within about one grid step of c. On rates that sit on a grid (whole sessions over 380) the
    sharp plug-in is a staircase in tau_hat and misses the truth by up to a grid point's mass; on
    continuous or finely spread rates g is tiny and K((y - c)/g) is the sharp indicator (used as such,
    with TOL, when no grid is found). f is the kernel density at c + tau_hat (bandwidth h >= g).
    fit: the rate regression fitted with keep_data=True; `term` names tau's coefficient. Row i contributes a_i = w_i (d_i - theta) / W_rows (rows only) plus f s b_i, with
    b_i = [(X'WX)^-1 x_i]_tau w_i e_i tau_hat's score and s = sqrt((n-1)/(n-k)), so that the tau part
    alone reproduces the fit's CR1 / HC1 variance of tau_hat exactly.
    """
    j = fit.index(term)
    tau = float(fit.coef[j])
    w = np.ones(y.size) if sample.weights is None else sample.weights
    wr, yr = w[rows], y[rows]
    wn = wr / wr.sum()
    h, grid = bandwidth(owner, yr, wn, threshold + tau)
    sharp = (yr >= threshold - TOL).astype(np.float64) - (yr - tau >= threshold - TOL)
    d = ndtr((yr - threshold) / grid) - ndtr((yr - tau - threshold) / grid) if grid > 0 else sharp
    theta = float(wn @ d)
    z = (yr - tau - threshold) / h
    density = float(wn @ np.exp(-0.5 * z * z)) / (h * np.sqrt(2 * np.pi))
    we = fit.resid if fit.weights is None else fit.resid * fit.weights
    scale = np.sqrt((fit.n_obs - 1) / (fit.n_obs - fit.k))
    psi = (fit.x @ fit.bread[:, j]) * we * (density * scale)
    psi[rows] += wn * (d - theta)
    near = float(wn[np.abs(z) <= 1].sum())
    return ThresholdEffect(theta, psi, tau, float(np.sqrt(fit.vcov[j, j])), density, h, grid, near,
                           float(wn @ sharp))


def bandwidth(owner: str, x: np.ndarray, wn: np.ndarray, at: float) -> tuple[float, float]:
    """Gaussian kernel bandwidth for x (weights wn summing to 1) near `at`: (bandwidth, local grid spacing).

    Silverman's 0.9 min(sd, IQR/1.34) n^(-1/5) (n the Kish effective size), raised to the local grid
    spacing of x when the values sit on a coarse grid (rates are sessions / possible, about 1/380), so
    the kernel does not resolve the grid's spikes.
    """
    mean = wn @ x
    sd = float(np.sqrt(wn @ (x - mean) ** 2))
    q1, q3 = _weighted_quantiles(x, wn, (0.25, 0.75))
    spread = min(sd, (q3 - q1) / 1.34) if q3 > q1 else sd
    if not spread > 0:
        raise EstimationError(
            f"{owner}: the treated rates in the effect period all equal {x[0]:g}; their density near the "
            "threshold cannot be estimated"
        )
    h = 0.9 * spread * (1.0 / (wn @ wn)) ** -0.2
    grid = _grid_spacing(x, at, 4 * h)
    return float(max(h, grid)), grid


def influence_vcov(psi: np.ndarray, fit: OLSFit, sample: Sample) -> np.ndarray:
    """Covariance of estimators whose per-row influence contributions are the columns of psi (n x m).

    Clustered as the fit was (G/(G-1) sum_g psi_g psi_g', two-way by Cameron-Gelbach-Miller), or
    n/(n-1) sum_i psi_i psi_i' when the fit used HC1: the sandwich with an identity bread and k = 1.
    """
    clusters = list(zip(sample.cluster_codes, fit.n_clusters)) if fit.n_clusters else None
    v, _ = sandwich(psi, np.ones(psi.shape[0]), np.eye(psi.shape[1]), n_obs=psi.shape[0], k=1, clusters=clusters)
    return v


def _weighted_quantiles(x: np.ndarray, wn: np.ndarray, probs: tuple[float, ...]) -> list[float]:
    """Quantiles of the weighted distribution (inverse of the weighted empirical CDF; weights sum to 1)."""
    order = np.argsort(x, kind="stable")
    cdf = np.cumsum(wn[order])
    idx = np.minimum(np.searchsorted(cdf, probs), x.size - 1)
    return [float(v) for v in x[order][idx]]


def _grid_spacing(x: np.ndarray, at: float, radius: float) -> float:
    """Median gap between the distinct values of x within `radius` of `at` (0 when fewer than 3 are)."""
    u = np.unique(x[np.abs(x - at) <= radius])
    return float(np.median(np.diff(u))) if u.size > 2 else 0.0


def _rate_on_sample(frame: pl.DataFrame, rate: str, sample: Sample) -> np.ndarray:
    return sample.take(frame.get_column(rate).cast(pl.Float64).to_numpy())


def _check_threshold(owner: str, threshold: Any) -> None:
    check_number(owner, "threshold", threshold)
    if not np.isfinite(threshold):
        raise ParameterError(f"The 'threshold' parameter of {owner} must be a finite number. Got {threshold!r} instead.")


def _check_inference(owner: str, inference: Any) -> None:
    if inference not in INFERENCE:
        extra = ("; the wild bootstrap is not supported for threshold outcomes (use 'cluster')"
                 if isinstance(inference, str) and inference.startswith("wild") else "")
        raise ParameterError(
            f"The 'inference' parameter of {owner} must be one of 'cluster', 'robust'. Got {inference!r} instead"
            f"{extra}."
        )


def _check_threshold_in_range(owner: str, rate: str, threshold: float, y: np.ndarray) -> None:
    """A threshold outside the observed rates makes every indicator constant: almost surely a units mistake."""
    lo, hi = float(y.min()), float(y.max())
    if not lo < threshold <= hi:
        raise ParameterError(
            f"The 'threshold' parameter of {owner} must lie in ({lo:g}, {hi:g}], the range of '{rate}' in the "
            f"estimation sample. Got {threshold!r} instead; give it in the units of '{rate}' (e.g. 0.10, not 10, "
            "for a proportion)."
        )


def _notes(rate: str, threshold: float, effects: list[ThresholdEffect]) -> list[str]:
    notes = [
        f"effect on 1['{rate}' >= {threshold:g}] assuming parallel trends in '{rate}' and the same additive "
        f"effect on '{rate}' for every treated post row; 'tau' is the effect on '{rate}'"
    ]
    if any(ef.bandwidth == ef.grid_spacing for ef in effects):
        notes.append(f"kernel bandwidth raised to the grid spacing of '{rate}' near the threshold")
    return notes
