"""Weighted least squares with absorbed fixed effects and HC1 / CR1 standard errors.

`fit_ols` is the linear-algebra core shared by did(), event_study() and other estimators that
need a regression with cluster-robust errors (e.g. the matching helper's effect()). It works on
numpy arrays only; data-frame handling and error messages for users live in the callers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import EstimationError, ParameterError
from .absorb import Absorber, varying_groups
from .vcov import sandwich
from .._blas import single_blas_thread

#: A regressor is dropped as collinear when less than this share of its sum of squares survives
#: partialling out the fixed effects and the regressors before it.
COLLINEAR_TOL = 1e-9


@dataclass
class OLSFit:
    """Coefficients, covariance and the facts inference needs (N, clusters, k, df)."""

    names: list[str]
    coef: np.ndarray
    vcov: np.ndarray
    n_obs: int
    k: int
    df: float
    n_clusters: list[int]
    fe_dof: int
    dropped: list[str] = field(default_factory=list)
    absorb_method: str | None = None
    #: Demeaned outcome, regressors, weights, residuals and (X'WX)^-1, kept when asked (for the wild
    #: bootstrap and for influence functions).
    y: np.ndarray | None = None
    x: np.ndarray | None = None
    weights: np.ndarray | None = None
    resid: np.ndarray | None = None
    bread: np.ndarray | None = None

    def std_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.vcov))

    def index(self, name: str) -> int:
        return self.names.index(name)


@single_blas_thread
def fit_ols(
    y: np.ndarray,
    x: np.ndarray,
    names: list[str],
    *,
    weights: np.ndarray | None = None,
    fe: list[np.ndarray] | Absorber | None = None,
    cluster: list[np.ndarray] | None = None,
    vcov: str = "cluster",
    fe_dof: str = "nonnested",
    keep_data: bool = False,
) -> OLSFit:
    """Regress y on x (n x p) with fixed effects absorbed, weights, and HC1 or CR1 covariance.

    fe: dense int codes per fixed-effect dimension (or a prebuilt Absorber). Without fe, x must
    carry its own intercept column. cluster: one or two arrays of dense cluster codes.
    fe_dof: how many absorbed fixed effects count in k for the (n-1)/(n-k) factor —
    "nonnested" (fixest/pyfixest: dimensions nested in a cluster dimension count as one
    parameter) or "full" (every identified level counts, as with explicit dummy variables).
    """
    block = np.empty((y.shape[0], 1 + x.shape[1]), order="F")
    block[:, 0] = y
    block[:, 1:] = x
    return fit_ols_block(block, names, weights=weights, fe=fe, cluster=cluster, vcov=vcov, fe_dof=fe_dof,
                         keep_data=keep_data)


@single_blas_thread
def fit_ols_block(
    block: np.ndarray,
    names: list[str],
    *,
    weights: np.ndarray | None = None,
    fe: list[np.ndarray] | Absorber | None = None,
    cluster: list[np.ndarray] | None = None,
    vcov: str = "cluster",
    fe_dof: str = "nonnested",
    keep_data: bool = False,
) -> OLSFit:
    """As `fit_ols`, on one Fortran-ordered n x (1 + p) array [y, x] that is demeaned in place (no copy)."""
    if vcov not in ("cluster", "robust"):
        raise ParameterError(f"The 'vcov' parameter of fit_ols must be 'cluster' or 'robust'. Got {vcov!r} instead.")
    if fe_dof not in ("nonnested", "full"):
        raise ParameterError(
            f"The 'fe_dof' parameter of fit_ols must be 'nonnested' or 'full'. Got {fe_dof!r} instead."
        )
    if vcov == "cluster" and not cluster:
        raise ParameterError("fit_ols: vcov='cluster' needs cluster codes; pass cluster=[codes] or vcov='robust'")
    n = block.shape[0]
    w = weights
    base_ss = _weighted_ss(block[:, 1:], w)
    absorber = None
    if fe:
        absorber = fe if isinstance(fe, Absorber) else Absorber.build(list(fe), w)
        absorber.demean(block)
    yd, xd = block[:, 0], block[:, 1:]
    xw = xd if w is None else xd * w[:, None]
    xtx = xw.T @ xd
    keep = _independent(xtx, base_ss)
    dropped = [nm for nm, k in zip(names, keep) if not k]
    if not keep.any():
        raise EstimationError(
            f"fit_ols: every regressor ({', '.join(names)}) is collinear with the fixed effects; nothing to estimate"
        )
    if not keep.all():
        xd, xw, xtx = xd[:, keep], xw[:, keep], xtx[np.ix_(keep, keep)]
        names = [nm for nm, k in zip(names, keep) if k]
    bread = np.linalg.inv(xtx)
    coef = bread @ (xw.T @ yd)
    resid = yd - xd @ coef
    we = resid if w is None else resid * w
    clusters = [(c, int(c.max()) + 1) for c in cluster] if (vcov == "cluster" and cluster) else None
    fe_k = _counted_fe(absorber, clusters, fe_dof) if absorber is not None else 0
    k = xd.shape[1] + fe_k
    if n - k <= 0:
        raise EstimationError(f"fit_ols: {n} observations cannot identify {k} parameters (regressors plus fixed effects)")
    v, df = sandwich(xd, we, bread, n_obs=n, k=k, clusters=clusters)
    return OLSFit(
        names=list(names),
        coef=coef,
        vcov=v,
        n_obs=n,
        k=k,
        df=df,
        n_clusters=[g for _, g in clusters] if clusters else [],
        fe_dof=absorber.dof if absorber is not None else 0,
        dropped=dropped,
        absorb_method=absorber.method if absorber is not None else None,
        y=yd if keep_data else None,
        x=xd if keep_data else None,
        weights=w if keep_data else None,
        resid=resid if keep_data else None,
        bread=bread if keep_data else None,
    )


def _weighted_ss(x: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    return np.einsum("ij,ij->j", x, x) if w is None else np.einsum("ij,ij,i->j", x, x, w)


def _independent(xtx: np.ndarray, base_ss: np.ndarray) -> np.ndarray:
    """Greedy left-to-right rank check: keep a column if enough of it is not explained by those kept."""
    keep = np.zeros(xtx.shape[0], dtype=bool)
    for j in range(xtx.shape[0]):
        kept = np.flatnonzero(keep)
        resid = xtx[j, j]
        if kept.size:
            sub = xtx[np.ix_(kept, kept)]
            resid -= xtx[j, kept] @ np.linalg.solve(sub, xtx[kept, j])
        keep[j] = base_ss[j] > 0 and resid > COLLINEAR_TOL * base_ss[j]
    return keep


def _counted_fe(absorber: Absorber, clusters: list[tuple[np.ndarray, int]] | None, rule: str) -> int:
    """Fixed-effect parameters counted in k: all identified levels, less those of dimensions nested in a cluster."""
    if rule == "full" or not clusters:
        return absorber.dof
    counted = absorber.dof
    for codes, levels in zip(absorber.codes, absorber.levels):
        if any(varying_groups(c, codes) == 0 for c, _ in clusters):
            counted -= levels - 1
    return counted
