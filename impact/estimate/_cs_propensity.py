"""Propensity scores for the group-time DiD estimators: logistic MLE and inverse probability tilting.

Both are fitted by Newton's method in numpy (the log-likelihood and the tilting loss are
concave/convex and smooth, so Newton converges in a handful of steps). Columns of `x` must
include the intercept.
"""
from __future__ import annotations

import numpy as np

from ..errors import EstimationError
from .._blas import single_blas_thread

_MAX_ITER = 100
_TOL = 1e-10


def _newton(grad_hess, k: int, what: str) -> np.ndarray:
    """Minimise a smooth convex loss given a function returning (loss, gradient, Hessian)."""
    beta = np.zeros(k)
    loss, grad, hess = grad_hess(beta)
    for _ in range(_MAX_ITER):
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            raise EstimationError(
                f"{what}: the covariates are collinear within this comparison; drop redundant covariates"
            ) from None
        # Step halving keeps the loss decreasing when a full Newton step overshoots.
        size = 1.0
        while True:
            cand = beta - size * step
            c_loss, c_grad, c_hess = grad_hess(cand)
            if np.isfinite(c_loss) and c_loss <= loss + 1e-12 * abs(loss):
                break
            size /= 2
            if size < 1e-8:
                raise EstimationError(f"{what}: Newton iterations failed; check overlap of the covariates")
        beta, loss, grad, hess = cand, c_loss, c_grad, c_hess
        if np.max(np.abs(size * step)) < _TOL * (1 + np.max(np.abs(beta))):
            return beta
    raise EstimationError(
        f"{what}: did not converge in {_MAX_ITER} Newton steps (perfect separation?); "
        "check overlap of the covariates between treated and comparison units"
    )


@single_blas_thread
def logit_fit(d: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logistic regression of `d` on `x` by Newton–Raphson (IRLS).

    Returns (coefficients, fitted probabilities, inverse of the average Hessian X'WX/n), the
    last being what the influence function of the coefficients needs.
    """
    n = d.shape[0]

    def f(beta: np.ndarray):
        eta = x @ beta
        p = 1.0 / (1.0 + np.exp(-eta))
        loss = -np.mean(d * eta - np.logaddexp(0.0, eta))
        grad = -(x.T @ (d - p)) / n
        hess = (x.T * (p * (1 - p))) @ x / n
        return loss, grad, hess

    beta = _newton(f, x.shape[1], "logistic propensity score")
    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    hess = (x.T * (p * (1 - p))) @ x / n
    return beta, p, np.linalg.inv(hess)


@single_blas_thread
def ipt_fit(d: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Inverse probability tilting propensity score for the ATT (Graham, Pinto & Egel 2012).

    Minimises mean(-(d * x'g) + (1 - d) * exp(x'g)); at the optimum the odds exp(x'g) reweight
    the comparison units so that their covariate means equal the treated means exactly, which
    is what makes the improved DR estimator's influence function free of first-step terms.
    Returns the fitted propensity scores.
    """
    n = d.shape[0]
    c = 1.0 - d

    def f(gam: np.ndarray):
        eta = x @ gam
        e = np.exp(np.minimum(eta, 700.0))
        loss = -np.mean(d * eta - c * e)
        grad = -(x.T @ (d - c * e)) / n
        hess = (x.T * (c * e)) @ x / n
        return loss, grad, hess

    gam = _newton(f, x.shape[1], "inverse probability tilting propensity score")
    return 1.0 / (1.0 + np.exp(-(x @ gam)))
