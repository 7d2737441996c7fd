"""Wild cluster restricted bootstrap (WCR) for one coefficient, with p-values and test-inversion intervals.

For H0: beta_j = r the model is re-estimated with the restriction imposed, giving fitted values
y~ and residuals u~. Bootstrap samples are y* = y~ + v_g u~ with one draw v_g per cluster
(Rademacher +-1, or Webb's six-point distribution). Each sample's CR1 t statistic is
t* = (b*_j - r) / se*(b*_j), and the p-value is the share of |t*| >= |t|.

Everything is linear in v, so with A = (X'X)^-1, a_j its j-th row, s_g = X_g'u~_g and
c_g = a_j's_g, one has b*_j - r = v'c and the cluster-g score of the j-th coefficient equals
v_g c_g - (K v)_g with K[h, g] = a_j'X_h'X_h A s_g (Roodman, MacKinnon, Nielsen and Webb 2019,
"Fast and wild"). A bootstrap therefore costs O(B G^2) after one pass over the data, and
the restricted residuals are linear in r, so inverting the test for an interval re-uses the
same draws at every r. Regression weights enter through sqrt(w) scaling of y and X.

With absorbed fixed effects the bootstrap runs on the demeaned (Frisch-Waugh-Lovell) model.
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import product

import numpy as np

from ..errors import ParameterError
from .vcov import cluster_score_sums

#: Largest number of clusters accepted: the method needs G x G matrices and is meant for few clusters.
MAX_CLUSTERS = 5000
_WEBB = np.array([-np.sqrt(1.5), -1.0, -np.sqrt(0.5), np.sqrt(0.5), 1.0, np.sqrt(1.5)])


@dataclass(frozen=True)
class WildResult:
    """Bootstrap p-value for H0: beta_j = 0, the test-inversion interval, and how draws were made."""

    statistic: float
    p_value: float
    ci_low: float
    ci_high: float
    reps: int
    weight_type: str
    enumerated: bool


def draw_weights(n_clusters: int, reps: int, weight_type: str, rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """B x G matrix of cluster weights; all 2^G sign vectors when Rademacher and 2^G <= reps."""
    if weight_type == "rademacher":
        if 2**n_clusters <= reps:
            return np.array(list(product((-1.0, 1.0), repeat=n_clusters))), True
        return rng.choice(np.array([-1.0, 1.0]), size=(reps, n_clusters)), False
    if weight_type == "webb":
        return rng.choice(_WEBB, size=(reps, n_clusters)), False
    raise ParameterError(
        f"The 'weight_type' parameter of wild_bootstrap must be one of 'rademacher', 'webb'. Got {weight_type!r} instead."
    )


class _WCR:
    """Pre-computed pieces of the WCR bootstrap for coefficient j; evaluates p(r) for any null value r."""

    def __init__(self, x: np.ndarray, y: np.ndarray, w: np.ndarray | None, codes: np.ndarray, j: int, v: np.ndarray):
        g = int(codes.max()) + 1
        if w is not None:
            sw = np.sqrt(w)
            x, y = x * sw[:, None], y * sw
        a = np.linalg.inv(x.T @ x)
        self.beta = a @ (x.T @ y)
        aj = a[j]
        others = np.delete(np.arange(x.shape[1]), j)
        xo = x[:, others]
        # Restricted residuals are u0 - r * m: u0 = M_o y and m = M_o x_j, M_o the annihilator of X_{-j}.
        if others.size:
            ao = np.linalg.inv(xo.T @ xo)
            u0 = y - xo @ (ao @ (xo.T @ y))
            m = x[:, j] - xo @ (ao @ (xo.T @ x[:, j]))
        else:
            u0, m = y.copy(), x[:, j].copy()
        s0 = cluster_score_sums(x, u0, codes, g)
        s1 = cluster_score_sums(x, m, codes, g)
        q = cluster_score_sums(x, x @ aj, codes, g)  # rows: q_h = X_h'X_h a_j
        self.c0, self.c1 = s0 @ aj, s1 @ aj
        self.k0, self.k1 = q @ a @ s0.T, q @ a @ s1.T
        # Unrestricted CR1 standard error of beta_j (small-sample factor cancels in the comparison).
        resid = y - x @ self.beta
        score = cluster_score_sums(x @ aj[:, None], resid, codes, g)[:, 0]
        self.se = float(np.sqrt(score @ score))
        self.bj = float(self.beta[j])
        self.v = v

    def p_value(self, r: float) -> float:
        """Share of bootstrap |t*| at least as large as the sample |t| for H0: beta_j = r."""
        c = self.c0 - r * self.c1
        k = self.k0 - r * self.k1
        v = self.v
        num = v @ c
        scores = v * c[None, :] - v @ k.T
        se = np.sqrt(np.einsum("bg,bg->b", scores, scores))
        with np.errstate(divide="ignore", invalid="ignore"):
            t_star = np.where(se > 0, num / se, 0.0)
        t = (self.bj - r) / self.se
        return float(np.mean(np.abs(t_star) >= abs(t) - 1e-12 * max(1.0, abs(t))))


def wild_bootstrap(
    x: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    j: int,
    *,
    weights: np.ndarray | None = None,
    reps: int = 999,
    weight_type: str = "rademacher",
    seed: int | None = None,
    level: float = 0.95,
    interval: bool = True,
) -> WildResult:
    """WCR bootstrap test of beta_j = 0 and (if `interval`) the `level` interval by inverting the test over r."""
    g = int(codes.max()) + 1
    if g > MAX_CLUSTERS:
        raise ParameterError(
            f"wild bootstrap: {g} clusters is more than {MAX_CLUSTERS}; the wild cluster bootstrap is for few "
            "clusters — use inference='cluster' instead"
        )
    v, enumerated = draw_weights(g, reps, weight_type, np.random.default_rng(seed))
    core = _WCR(x, y, weights, codes, j, v)
    b = core.bj
    alpha = 1 - level
    lo = _invert(core, alpha, -1.0) if interval else float("nan")
    hi = _invert(core, alpha, +1.0) if interval else float("nan")
    return WildResult(b / core.se, core.p_value(0.0), lo, hi, v.shape[0], weight_type, enumerated)


def _invert(core: _WCR, alpha: float, direction: float) -> float:
    """The r beyond which the bootstrap rejects at `alpha`, searching outward from the estimate."""
    b = core.bj
    step = 2.0 * core.se if core.se > 0 else max(abs(b), 1.0)
    inside = b
    outside = b + direction * step
    for doubling in range(1, 61):
        if core.p_value(outside) <= alpha:
            break
        inside, outside = outside, b + direction * step * 2.0**doubling
    else:
        return float(direction * np.inf)
    for _ in range(60):
        mid = 0.5 * (inside + outside)
        if core.p_value(mid) > alpha:
            inside = mid
        else:
            outside = mid
        if abs(outside - inside) <= 1e-7 * max(core.se, 1e-12):
            break
    return float(0.5 * (inside + outside))
