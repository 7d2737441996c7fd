"""Two-period DiD estimators of the ATT with their influence functions (Sant'Anna & Zhao 2020).

Each function takes one (g, t) comparison: the treated indicator `d`, the covariate matrix `x`
(first column the intercept) and the outcome, and returns (att, influence) where `influence`
has one entry per observation of the comparison, scaled so that Var(att) = mean(influence**2)/n.

Panel versions use the outcome change dy = Y_t - Y_base per unit. Repeated cross-section
versions use the outcome level `y` and `post` (1 in the current period, 0 in the base period).
Methods: "reg" outcome regression, "ipw" normalised (Hajek) inverse probability weighting,
"dr" the improved, locally efficient doubly robust estimator (`drdid` "imp").
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..errors import EstimationError
from ._cs_propensity import ipt_fit, logit_fit

_PS_MAX = 1.0 - 1e-6


def _wols(y: np.ndarray, x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted least squares on the rows with w > 0; returns (coefficients, inverse of X'WX/n)."""
    n = y.shape[0]
    xtwx = (x.T * w) @ x / n
    try:
        inv = np.linalg.inv(xtwx)
    except np.linalg.LinAlgError:
        raise EstimationError(
            "outcome regression: the covariates are collinear among the comparison units; drop redundant covariates"
        ) from None
    if np.linalg.cond(xtwx) > 1e12:
        raise EstimationError(
            "outcome regression: the covariates are (nearly) collinear among the comparison units; "
            "drop redundant covariates"
        )
    return inv @ (x.T @ (w * y)) / n, inv


def _hajek(num: np.ndarray, w: np.ndarray) -> tuple[float, np.ndarray]:
    """Weighted mean eta = mean(num)/mean(w) and its influence function (num - w*eta)/mean(w)."""
    mw = w.mean()
    eta = num.mean() / mw
    return eta, (num - w * eta) / mw


def _odds(ps: np.ndarray) -> np.ndarray:
    ps = np.minimum(ps, _PS_MAX)
    return ps / (1.0 - ps)


# ----------------------------------------------------------------------------- panel


def panel_reg(dy: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Outcome regression: impute the treated units' counterfactual change from an OLS fit on comparisons."""
    c = 1.0 - d
    beta, xtx_inv = _wols(dy, x, c)
    fit = x @ beta
    eta_t, inf_t = _hajek(d * dy, d)
    eta_c, inf_c = _hajek(d * fit, d)
    lin_rep = ((c * (dy - fit))[:, None] * x) @ xtx_inv  # influence of the OLS coefficients
    inf_c = inf_c + lin_rep @ (d[:, None] * x).mean(axis=0) / d.mean()
    return eta_t - eta_c, inf_t - inf_c


def panel_ipw(dy: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Normalised IPW: comparison changes reweighted by the logit propensity odds."""
    _, ps, hess_inv = logit_fit(d, x)
    wc = (1.0 - d) * _odds(ps)
    eta_t, inf_t = _hajek(d * dy, d)
    eta_c, inf_c = _hajek(wc * dy, wc)
    lin_rep = ((d - ps)[:, None] * x) @ hess_inv  # influence of the logit coefficients
    m2 = (wc * (dy - eta_c))[:, None] * x
    inf_c = inf_c + lin_rep @ (m2.mean(axis=0) / wc.mean())
    return eta_t - eta_c, inf_t - inf_c


def panel_dr(dy: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Improved DR: tilting propensity score plus odds-weighted OLS; no first-step terms in the influence."""
    ps = ipt_fit(d, x)
    wc = (1.0 - d) * _odds(ps)
    beta, _ = _wols(dy, x, wc)
    resid = dy - x @ beta
    eta_t, inf_t = _hajek(d * resid, d)
    eta_c, inf_c = _hajek(wc * resid, wc)
    return eta_t - eta_c, inf_t - inf_c


# ----------------------------------------------------------------- repeated cross-sections


def rc_reg(y: np.ndarray, post: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Outcome regression: comparison-group OLS fits in each period impute the treated trend."""
    pre = 1.0 - post
    c = 1.0 - d
    b_pre, inv_pre = _wols(y, x, c * pre)
    b_post, inv_post = _wols(y, x, c * post)
    f_pre, f_post = x @ b_pre, x @ b_post
    eta_t1, inf_t1 = _hajek(d * post * y, d * post)
    eta_t0, inf_t0 = _hajek(d * pre * y, d * pre)
    eta_c, inf_c = _hajek(d * (f_post - f_pre), d)
    m1 = (d[:, None] * x).mean(axis=0) / d.mean()
    rep_pre = ((c * pre * (y - f_pre))[:, None] * x) @ inv_pre
    rep_post = ((c * post * (y - f_post))[:, None] * x) @ inv_post
    inf_c = inf_c + (rep_post - rep_pre) @ m1
    return (eta_t1 - eta_t0) - eta_c, (inf_t1 - inf_t0) - inf_c


def rc_ipw(y: np.ndarray, post: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Normalised IPW on pooled cross-sections (propensity fitted on both periods together)."""
    pre = 1.0 - post
    _, ps, hess_inv = logit_fit(d, x)
    odds = (1.0 - d) * _odds(ps)
    eta_t1, inf_t1 = _hajek(d * post * y, d * post)
    eta_t0, inf_t0 = _hajek(d * pre * y, d * pre)
    eta_c1, inf_c1 = _hajek(odds * post * y, odds * post)
    eta_c0, inf_c0 = _hajek(odds * pre * y, odds * pre)
    lin_rep = ((d - ps)[:, None] * x) @ hess_inv
    m_post = ((odds * post * (y - eta_c1))[:, None] * x).mean(axis=0) / (odds * post).mean()
    m_pre = ((odds * pre * (y - eta_c0))[:, None] * x).mean(axis=0) / (odds * pre).mean()
    inf_c = (inf_c1 - inf_c0) + lin_rep @ (m_post - m_pre)
    return (eta_t1 - eta_t0) - (eta_c1 - eta_c0), (inf_t1 - inf_t0) - inf_c


def rc_dr(y: np.ndarray, post: np.ndarray, d: np.ndarray, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Improved, locally efficient DR for repeated cross-sections (drdid_imp_local_rc)."""
    pre = 1.0 - post
    ps = ipt_fit(d, x)
    odds = (1.0 - d) * _odds(ps)
    fc_pre = x @ _wols(y, x, odds * pre)[0]
    fc_post = x @ _wols(y, x, odds * post)[0]
    ft_pre = x @ _wols(y, x, d * pre)[0]
    ft_post = x @ _wols(y, x, d * post)[0]
    fc = post * fc_post + pre * fc_pre
    resid = y - fc
    eta_t1, inf_t1 = _hajek(d * post * resid, d * post)
    eta_t0, inf_t0 = _hajek(d * pre * resid, d * pre)
    eta_c1, inf_c1 = _hajek(odds * post * resid, odds * post)
    eta_c0, inf_c0 = _hajek(odds * pre * resid, odds * pre)
    gap_post, gap_pre = ft_post - fc_post, ft_pre - fc_pre
    eta_d1, inf_d1 = _hajek(d * gap_post, d)
    eta_dt1, inf_dt1 = _hajek(d * post * gap_post, d * post)
    eta_d0, inf_d0 = _hajek(d * gap_pre, d)
    eta_dt0, inf_dt0 = _hajek(d * pre * gap_pre, d * pre)
    att = (eta_t1 - eta_t0) - (eta_c1 - eta_c0) + (eta_d1 - eta_dt1) - (eta_d0 - eta_dt0)
    inf = (inf_t1 - inf_t0) - (inf_c1 - inf_c0) + (inf_d1 - inf_dt1) - (inf_d0 - inf_dt0)
    return att, inf


PANEL: dict[str, Callable[..., tuple[float, np.ndarray]]] = {"reg": panel_reg, "ipw": panel_ipw, "dr": panel_dr}
CROSS_SECTION: dict[str, Callable[..., tuple[float, np.ndarray]]] = {"reg": rc_reg, "ipw": rc_ipw, "dr": rc_dr}
