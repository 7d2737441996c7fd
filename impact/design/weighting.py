"""`weight`: build a weighting design (inverse-probability or entropy-balancing weights).

Each weighting model also exposes its estimating equations (`equations()`: per-row scores psi,
their summed Jacobian, and d weight / d parameters), so `design.effect()` and `design.aipw()`
can stack them with the outcome equations and give standard errors that account for the
weights being estimated (M-estimation sandwich), rather than treating the weights as known.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg, special

from ..errors import EstimationError
from ..params import check_choice, check_number
from ._prepare import prepare
from .designs import WeightDesign
from .propensity import fit_propensity

OWNER = "weight"


def _normalise(raw: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Per-group constants c_g so that c_g * raw sums to the group's size (weights average 1 in each group)."""
    c = np.empty(raw.size)
    for g in (treated, ~treated):
        c[g] = g.sum() / raw[g].sum()
    return c


@dataclass
class IPWModel:
    """Logistic propensity model and the ATT odds / ATE inverse-probability weights built from it."""

    Z: np.ndarray  # propensity model matrix [1, X]
    treated: np.ndarray
    e: np.ndarray  # propensity scores after truncation
    truncated: np.ndarray  # rows whose score was truncated (weight locally constant in beta)
    estimand: str
    scale: np.ndarray  # per-row normalising constant

    def raw(self) -> np.ndarray:
        t, e = self.treated, self.e
        if self.estimand == "ATT":
            return np.where(t, 1.0, e / (1 - e))
        return np.where(t, 1 / e, 1 / (1 - e))

    def equations(self):
        """Logit score X(T - e), its Jacobian -X' diag(e(1-e)) X and d w / d beta."""
        t, e, Z = self.treated.astype(np.float64), self.e, self.Z
        psi = Z * (t - e)[:, None]
        jac = -(Z * (e * (1 - e))[:, None]).T @ Z
        if self.estimand == "ATT":
            dlog = np.where(self.treated, 0.0, 1.0)  # d log(odds) / d eta = 1
        else:
            dlog = np.where(self.treated, -(1 - e), e)  # d log(1/e) = -(1-e); d log(1/(1-e)) = e
        dlog = np.where(self.truncated, 0.0, dlog)
        dw = Z * (self.scale * self.raw() * dlog)[:, None]
        return psi, jac, dw


@dataclass
class EntropyModel:
    """Entropy balancing: comparison weights exp(lambda'C) (ATT) matching the treated moments of C."""

    C: np.ndarray  # balance constraints matrix (means, optionally squares)
    treated: np.ndarray
    lam: np.ndarray
    mu: np.ndarray  # target moments (treated means)
    scale: np.ndarray

    def raw(self) -> np.ndarray:
        return np.where(self.treated, 1.0, np.exp((self.C - self.mu) @ self.lam))

    def equations(self):
        """psi_mu = T (C - mu); psi_lambda = (1 - T) w (C - mu); Jacobian and d w / d (mu, lambda)."""
        t = self.treated.astype(np.float64)
        c = 1.0 - t
        D = self.C - self.mu
        r = self.raw() * c
        p = D.shape[1]
        psi = np.column_stack([D * t[:, None], D * r[:, None]])
        jac = np.zeros((2 * p, 2 * p))
        jac[:p, :p] = -t.sum() * np.eye(p)
        jac[p:, :p] = -r.sum() * np.eye(p)  # the factor exp(-lambda'mu) is a constant rescaling of psi_lambda
        jac[p:, p:] = (D * r[:, None]).T @ self.C
        dw = np.column_stack([np.zeros_like(D), self.C * (self.scale * r)[:, None]])
        return psi, jac, dw


def _entropy_fit(D: np.ndarray) -> np.ndarray:
    """lambda minimising log sum exp(lambda'D_i) over comparison rows (dual of entropy balancing), by Newton."""
    lam = np.zeros(D.shape[1])
    for _ in range(200):
        a = D @ lam
        p = np.exp(a - a.max())
        p /= p.sum()
        g = D.T @ p
        H = (D * p[:, None]).T @ D - np.outer(g, g)
        step = linalg.lstsq(H, g)[0]
        s = 1.0  # backtracking on the convex objective
        f0 = special.logsumexp(a)
        while special.logsumexp(D @ (lam - s * step)) > f0 - 1e-4 * s * (g @ step) and s > 1e-10:
            s /= 2
        lam = lam - s * step
        if np.max(np.abs(g)) < 1e-10:
            return lam
    raise EstimationError("entropy balancing did not converge: the treated moments may lie outside the "
                          "comparison group's range (no weights can balance them); drop or coarsen a covariate")


def weight(
    data,
    treatment: str,
    covariates,
    *,
    method: str = "ipw",
    estimand: str = "ATT",
    trim: float | None = None,
    moments: int = 1,
    missing: str = "error",
) -> WeightDesign:
    """Weight comparison (and, for the ATE, treated) units to balance covariates; returns the design.

    method: 'ipw' (logistic propensity score; ATT: comparison weight e/(1-e); ATE: 1/e and 1/(1-e))
    or 'entropy' (entropy balancing, ATT: comparison weights matching the treated means, and
    variances too when moments=2). Weights are normalised to average 1 within each group.
    trim: truncate propensity scores to [trim, 1 - trim] before forming IPW weights (0 < trim < 0.5).
    """
    check_choice(OWNER, "method", method, ("ipw", "entropy"))
    check_choice(OWNER, "estimand", estimand, ("ATT", "ATE") if method == "ipw" else ("ATT",))
    check_number(OWNER, "trim", trim, low=0, high=0.5, low_open=True, high_open=True, allow_none=True)
    check_choice(OWNER, "moments", moments, (1, 2))
    if method == "entropy" and trim is not None:
        check_choice(OWNER, "trim", trim, (None,))
    d = prepare(data, treatment, covariates, owner=OWNER, missing=missing)
    notes = list(d.notes)
    t = d.treated
    if method == "ipw":
        ps = fit_propensity(d.X, t, link="logit", names=d.names)
        if ps.dropped:
            notes.append(f"collinear covariate column(s) dropped from the propensity model: {ps.dropped}")
        e = ps.score
        truncated = np.zeros(d.n, bool)
        if trim is not None:
            truncated = (e < trim) | (e > 1 - trim)
            e = np.clip(e, trim, 1 - trim)
            notes.append(f"propensity scores truncated to [{trim:g}, {1 - trim:g}]: {int(truncated.sum())} row(s)")
        model = IPWModel(ps.design(d.X), t, e, truncated, estimand, np.ones(d.n))
        model.scale = _normalise(model.raw(), t)
        notes.append(f"weights: {'odds e/(1-e) for comparison units' if estimand == 'ATT' else '1/e and 1/(1-e)'}, "
                     "normalised to average 1 within each group")
        distance, propensity = ps.linear_predictor, ps
    else:
        C = d.X
        if moments == 2:
            nonbinary = [j for j in range(C.shape[1]) if np.unique(C[:, j]).size > 2]
            C = np.column_stack([C] + [C[:, [j]] ** 2 for j in nonbinary])
        keep = np.ptp(C, axis=0) > 0
        C = C[:, keep]
        mu = C[t].mean(axis=0)
        lam = _entropy_fit(C[~t] - mu)
        model = EntropyModel(C, t, lam, mu, np.ones(d.n))
        model.scale = _normalise(model.raw(), t)
        notes.append(f"entropy balancing on {'means' if moments == 1 else 'means and variances'} of "
                     f"{C.shape[1]} covariate column(s); comparison weights normalised to average 1")
        distance, propensity = None, None
    weights = model.scale * model.raw()
    notes.append(f"estimand: {estimand}")
    return WeightDesign(
        data=d,
        method=method,
        estimand=estimand,
        weights=weights,
        subclass=np.full(d.n, -1, dtype=np.int64),
        distance=distance,
        propensity=propensity,
        strata=np.zeros(d.n, dtype=np.int64),
        notes=notes,
        owner=OWNER,
        model=model,
    )
