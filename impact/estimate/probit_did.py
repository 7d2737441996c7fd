"""DiD for a 0/1 outcome with parallel trends in a latent normal index (a probit), not in the probability.

A 0/1 outcome that marks a latent score reaching a mark (grade 5 in English and maths) moves
unequally for two groups when the mark moves for everyone: the group with more pupils near the mark
moves more, so a linear DiD on the indicator mistakes the moving mark for an effect. Here, as in
Wooldridge's (2023) nonlinear DiD for repeated cross-sections,

    P(y_i = 1) = Phi(a + b D_i + g_t + tau D_i Post_t + X_i'c),

the fixed effects as dummy columns, fitted by (weighted) maximum likelihood. The ATT on the
probability is the weighted mean over treated post rows (T1) of Phi(eta_i) - Phi(eta_i - tau):
each such row's probability less its probability without the index shift. Inference: delta method
on per-row influence contributions (the probit's scores, and the mean over T1), clustered CR1-style.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.special import log_ndtr, ndtr

from ..errors import EstimationError, ParameterError
from ..frame import require_binary
from ..results import EffectResult, Term
from .did import fit_did
from .vcov import sandwich

INFERENCE = ("cluster", "robust")
MAX_DUMMIES = 500
"""Fixed effects enter as dummy columns: a few hundred levels (years, LAs) at most. A pupil fixed effect
would also bias a probit (the incidental-parameters problem), so it is refused, not approximated."""
MAX_ITER = 100
LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


@dataclass(frozen=True)
class ProbitFit:
    """The maximum-likelihood probit: coefficients, the inverse information (bread) and the per-row scores' parts."""

    coef: np.ndarray
    bread: np.ndarray  # inverse of minus the Hessian at the maximum
    eta: np.ndarray
    generalised_residual: np.ndarray  # d log L_i / d eta_i
    loglik: float
    iterations: int


def probit_did(
    data: Any,
    outcome: str,
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
    """ATT on P(`outcome` = 1) assuming parallel trends in a latent normal index (a DiD probit).

    Arguments as did(); `outcome` must be 0/1. Fixed effects (default: `time` when given) enter as
    dummy columns, so they must have few levels (at most MAX_DUMMIES in all): a unit fixed effect is
    refused. The probit is fitted to the same rows as did() would use. Reports the ATT on the
    probability; info "tau" is the effect on the index. Standard errors: delta method with the probit's
    scores and the T1 mean's own variation (the population ATT), CR1-style G/(G-1) (n-1)/(n-k) (two-way:
    Cameron-Gelbach-Miller; HC1-style with inference="robust"), t reference with G-1 (or n-k) df.
    """
    owner = "probit_did"
    if inference not in INFERENCE:
        raise ParameterError(
            f"The 'inference' parameter of {owner} must be one of 'cluster', 'robust'. Got {inference!r} instead."
        )
    if fixed_effects is None and unit is not None:
        fixed_effects = [time] if time is not None else []  # did()'s default adds the unit: refused here
    model = fit_did(
        owner, data, outcome, treatment, post, unit=unit, time=time, fixed_effects=fixed_effects,
        covariates=covariates, weights=weights, cluster=cluster, inference=inference,
    )
    require_binary(model.frame, outcome, owner=owner, role="outcome")
    fes = model.info["fixed_effects"] or []
    sample = model.sample
    y = sample.take(model.frame.get_column(outcome).cast(float).to_numpy())
    x, names = _design(owner, model, fes, treatment)
    _check_fixed_effect_outcomes(owner, outcome, fes, sample.fe_codes, y)
    w = np.ones(y.size) if sample.weights is None else sample.weights
    fit = fit_probit(owner, outcome, x, y, w)
    j = names.index("att")
    rows = model.treated & model.post
    clusters = [(c, int(c.max()) + 1) for c in sample.cluster_codes] or None
    n, k = y.size, x.shape[1]
    v_coef, df = sandwich(x, w * fit.generalised_residual, fit.bread, n_obs=n, k=k, clusters=clusters)
    att, psi = _att_influence(x, w, fit, rows, j, scale=np.sqrt((n - 1) / (n - k)))
    v_att, _ = sandwich(psi[:, None], np.ones(n), np.eye(1), n_obs=n, k=1, clusters=clusters)
    term = Term.from_estimate("att", att, float(np.sqrt(v_att[0, 0])), df=df, **model.counts)
    info = {
        **model.info,
        "link": "probit",
        "tau": float(fit.coef[j]),
        "tau_std_error": float(np.sqrt(v_coef[j, j])),
        "k": k,
        "df": df,
        "loglik": fit.loglik,
        "iterations": fit.iterations,
        "covariates": {c: float(fit.coef[names.index(c)]) for c in model.info["covariates"]},
    }
    notes = [
        *model.notes,
        f"effect on P('{outcome}' = 1) assuming parallel trends in a latent normal index (probit DiD, fixed "
        "effects as dummies); 'tau' is the effect on the index",
    ]
    return EffectResult("probit_did", [term], info, notes)


def _design(owner: str, model: Any, fes: list[str], treatment: str) -> tuple[np.ndarray, list[str]]:
    """The probit's columns: intercept, the main effects did() kept, one dummy per non-first fixed-effect
    level, the covariates did() kept, and treatment x post ('att')."""
    sample, fit = model.sample, model.fit
    levels = [int(c.max()) + 1 for c in sample.fe_codes]
    if sum(levels) > MAX_DUMMIES:
        sizes = ", ".join(f"'{f}' {n:,}" for f, n in zip(fes, levels))
        raise ParameterError(
            f"The 'fixed_effects' parameter of {owner} must have at most {MAX_DUMMIES} levels in all: they are "
            f"fitted as dummy columns. Got {sizes} instead; a probit with unit fixed effects is biased (incidental "
            "parameters), so use few-level fixed effects such as the year, and treatment and post as main effects."
        )
    kept = [nm for nm in fit.names if nm != "att" and nm != "(intercept)"]
    mains = [nm for nm in kept if nm not in model.info["covariates"]]
    covs = [nm for nm in kept if nm in model.info["covariates"]]
    n = sample.n
    names = ["(intercept)", *mains, *(f"{f}[{lv}]" for f, nl in zip(fes, levels) for lv in range(1, nl)), *covs, "att"]
    x = np.zeros((n, len(names)))
    x[:, 0] = 1.0
    col = 1
    for nm in mains:  # treatment or post, whichever the fixed effects do not absorb
        x[:, col] = model.treated if nm == treatment else model.post
        col += 1
    for codes, nl in zip(sample.fe_codes, levels):
        rows = np.flatnonzero(codes > 0)
        x[rows, col + codes[rows] - 1] = 1.0
        col += nl - 1
    for c in covs:
        x[:, col] = sample.take(model.frame.get_column(c).cast(float).to_numpy())
        col += 1
    x[:, col] = model.treated & model.post
    return x, names


def _check_fixed_effect_outcomes(owner: str, outcome: str, fes: list[str], codes: list[np.ndarray],
                                 y: np.ndarray) -> None:
    """A fixed-effect level whose rows all share one outcome value pushes its dummy to +-infinity."""
    for name, c in zip(fes, codes):
        ones = np.bincount(c, weights=y)
        size = np.bincount(c)
        constant = int(((ones == 0) | (ones == size)).sum())
        if constant:
            raise EstimationError(
                f"{owner}: '{outcome}' takes one value in every row of {constant} level(s) of the fixed effect "
                f"'{name}', so the probit has no finite maximum; drop those rows or that fixed effect"
            )


def fit_probit(owner: str, outcome: str, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> ProbitFit:
    """Weighted probit by Newton's method on the log-likelihood (step halving), from zero coefficients.

    Raises EstimationError when no finite maximum is reached (perfect prediction by some column)."""
    q = 2.0 * y - 1.0
    beta = np.zeros(x.shape[1])
    loglik = _loglik(q, x @ beta, w)
    for it in range(1, MAX_ITER + 1):
        eta = x @ beta
        lam, curv = _derivatives(q, eta)
        grad = x.T @ (w * lam)
        info = (x * (w * curv)[:, None]).T @ x  # minus the Hessian: sum w lam (lam + eta) x x'
        try:
            step = np.linalg.solve(info, grad)
        except np.linalg.LinAlgError:
            raise EstimationError(f"{owner}: the probit's columns are collinear; cannot fit '{outcome}'") from None
        for _ in range(40):  # halve the step until the log-likelihood does not fall
            new = _loglik(q, x @ (beta + step), w)
            if new >= loglik - 1e-12 * abs(loglik):
                break
            step /= 2
        beta, loglik = beta + step, new
        if np.max(np.abs(step)) < 1e-10 * (1 + np.max(np.abs(beta))):
            break
    else:
        it = MAX_ITER + 1
    if it > MAX_ITER or np.max(np.abs(beta)) > 30:
        raise EstimationError(
            f"{owner}: the probit for '{outcome}' has no finite maximum (a column predicts it perfectly, e.g. a "
            "cell of treatment x post or a covariate value where it never or always occurs)"
        )
    eta = x @ beta
    lam, curv = _derivatives(q, eta)
    bread = np.linalg.inv((x * (w * curv)[:, None]).T @ x)
    return ProbitFit(beta, bread, eta, lam, float(loglik), it)


def _loglik(q: np.ndarray, eta: np.ndarray, w: np.ndarray) -> float:
    return float(w @ log_ndtr(q * eta))


def _derivatives(q: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """d log Phi(q eta)/d eta (the generalised residual) and minus its derivative, lam (lam + eta), computed as
    phi/Phi in logs so that neither overflows in the tails."""
    z = q * eta
    lam = q * np.exp(-0.5 * z * z - LOG_SQRT_2PI - log_ndtr(z))
    return lam, lam * (lam + eta)


def _att_influence(x: np.ndarray, w: np.ndarray, fit: ProbitFit, rows: np.ndarray, j: int,
                   scale: float) -> tuple[float, np.ndarray]:
    """ATT = sum_T1 w (Phi(eta) - Phi(eta - tau)) / W_T1 and each row's contribution to ATT_hat - ATT:
    (w/W)(delta_i - ATT) on T1 rows plus g' bread x_i w_i lam_i on every row (scaled by `scale`, the
    (n-1)/(n-k) factor's root, so that the probit part alone carries the coefficients' CR1 factor)."""
    tau = fit.coef[j]
    eta1 = fit.eta[rows]
    wn = w[rows] / w[rows].sum()
    delta = ndtr(eta1) - ndtr(eta1 - tau)
    att = float(wn @ delta)
    dens1, dens0 = _phi(eta1), _phi(eta1 - tau)
    x1 = x[rows]
    grad = x1.T @ (wn * (dens1 - dens0))  # d ATT / d beta: both terms move with every coefficient...
    grad[j] = wn @ dens1  # ...except tau, which only the first carries
    psi = (x @ (fit.bread @ grad)) * (w * fit.generalised_residual) * scale
    psi[rows] += wn * (delta - att)
    return att, psi


def _phi(z: np.ndarray) -> np.ndarray:
    return np.exp(-0.5 * z * z - LOG_SQRT_2PI)
