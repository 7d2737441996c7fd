"""The design objects returned by `match` and `weight`: weights plus diagnostics, and the separate effect step.

A design never estimates an effect while it is built. `effect(outcome)` is a second, explicit
step: a weighted regression of the outcome on treatment (and optional covariates) using the
design's weights, with a standard error appropriate to how the weights were made.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..errors import DataError, ParameterError
from ..frame import require_columns, require_no_missing, require_numeric
from ..params import check_columns_arg, check_number
from ..results import EffectResult, Term
from ._prepare import DesignData, covariate_matrix
from .balance import balance_table
from .inference import sandwich, wls_cluster
from .propensity import PropensityModel

_ADDED = ("weights", "subclass", "distance")


@dataclass
class Design:
    """Common state and diagnostics of matching and weighting designs."""

    data: DesignData
    method: str
    estimand: str
    weights: np.ndarray  # aligned to input rows; 0 = not used
    subclass: np.ndarray  # int pair/subclass id per row, -1 = none
    distance: np.ndarray | None  # the matching/propensity scale per row
    propensity: PropensityModel | None
    strata: np.ndarray  # exact-matching stratum per row (all 0 when none)
    notes: list[str] = field(default_factory=list)
    owner: str = "design"

    # ---- diagnostics -------------------------------------------------------------------
    def matched_data(self) -> pl.DataFrame:
        """The input columns plus `weights`, `subclass` (pair/stratum id, null if none) and `distance`."""
        clash = [c for c in _ADDED if c in self.data.frame.columns]
        if clash:
            raise DataError(
                f"{self.owner}.matched_data: the input already has column(s) {clash}; rename them first"
            )
        sub = pl.Series("subclass", self.subclass, dtype=pl.Int64)
        return self.data.frame.with_columns(
            pl.Series("weights", self.weights, dtype=pl.Float64),
            pl.when(sub >= 0).then(sub).otherwise(None).alias("subclass"),
            pl.Series(
                "distance",
                self.distance if self.distance is not None else np.full(self.data.n, np.nan),
                dtype=pl.Float64,
            ),
        )

    def balance(self) -> pl.DataFrame:
        """Balance table before and after (see impact.design.balance for the definitions)."""
        return balance_table(self.data.B, self.data.bnames, self.data.treated, self.weights, self.estimand)

    def overlap(self, bins: int = 20) -> pl.DataFrame:
        """Counts of units per propensity-score bin and group, all rows and rows kept (aggregate only)."""
        check_number(f"{self.owner}.overlap", "bins", bins, low=1, integer=True)
        if self.propensity is not None:
            score, lo, hi = self.propensity.score, 0.0, 1.0
        elif self.distance is not None:
            score = self.distance
            lo, hi = float(score.min()), float(score.max())
        else:
            raise ParameterError(f"{self.owner}.overlap: this design has no propensity score or distance")
        edges = np.linspace(lo, hi, bins + 1)
        idx = np.clip(np.searchsorted(edges, score, side="right") - 1, 0, bins - 1)
        kept = self.weights > 0
        rows = []
        for name, g in (("treated", self.data.treated), ("comparison", ~self.data.treated)):
            n_all = np.bincount(idx[g], minlength=bins)
            n_kept = np.bincount(idx[g & kept], minlength=bins)
            rows += [(float(edges[b]), float(edges[b + 1]), name, int(n_all[b]), int(n_kept[b])) for b in range(bins)]
        return pl.DataFrame(
            rows,
            schema={"bin_low": pl.Float64, "bin_high": pl.Float64, "group": pl.Utf8, "n": pl.Int64, "n_kept": pl.Int64},
            orient="row",
        )

    def summary(self) -> pl.DataFrame:
        """Counts by stratum and group: all, kept (weight > 0), not kept, dropped by the caliper."""
        t = self.data.treated
        kept = self.weights > 0
        cal = self._caliper_dropped()
        frame = pl.DataFrame(
            {
                "stratum": self.strata,
                "group": np.where(t, "treated", "comparison"),
                "kept": kept,
                "caliper": cal,
                "w": self.weights,
            }
        )
        agg = [
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("kept").sum().cast(pl.Int64).alias("n_matched"),
            (~pl.col("kept")).sum().cast(pl.Int64).alias("n_unmatched"),
            pl.col("caliper").sum().cast(pl.Int64).alias("n_discarded_caliper"),
            (pl.col("w").sum() ** 2 / (pl.col("w") ** 2).sum()).alias("effective_n"),
        ]
        overall = frame.group_by("group").agg(agg).with_columns(pl.lit("all").alias("stratum"))
        tables = [overall]
        if self.strata.max(initial=0) > 0:
            by = frame.group_by("stratum", "group").agg(agg).with_columns(pl.col("stratum").cast(pl.Utf8))
            tables.append(by)
        out = pl.concat([t_.select("stratum", "group", "n", "n_matched", "n_unmatched", "n_discarded_caliper", "effective_n") for t_ in tables])
        return out.sort(["stratum", "group"], descending=[False, True])

    def _caliper_dropped(self) -> np.ndarray:
        return np.zeros(self.data.n, bool)

    # ---- effect step -------------------------------------------------------------------
    def _outcome_and_covariates(self, outcome: str, covariates, cluster):
        """Outcome vector, extra regressors and cluster labels, checked with the package's messages."""
        owner = f"{self.owner}.effect"
        if not isinstance(outcome, str):
            raise ParameterError(f"The 'outcome' parameter of {owner} must be a column name. Got {outcome!r} instead.")
        df = self.data.frame
        covs = check_columns_arg(owner, "covariates", covariates, allow_none=True)
        require_columns(df, [outcome], owner=owner, role="outcome column")
        require_columns(df, covs, owner=owner, role="covariate")
        require_numeric(df, [outcome], owner=owner, role="outcome")
        used = self.weights > 0
        sub = df.filter(pl.Series(used))
        require_no_missing(sub, [outcome] + covs, owner=owner)
        y = sub.get_column(outcome).cast(pl.Float64).to_numpy()
        X = covariate_matrix(sub, covs)[0] if covs else np.zeros((sub.height, 0))
        cl = None
        if cluster is not None:
            if not isinstance(cluster, str):
                raise ParameterError(
                    f"The 'cluster' parameter of {owner} must be a column name or None. Got {cluster!r} instead."
                )
            require_columns(df, [cluster], owner=owner, role="cluster column")
            require_no_missing(sub, [cluster], owner=owner)
            cl = sub.get_column(cluster).to_numpy()
        return used, y, X, covs, cl

    def _term(self, est: float, se: float, used: np.ndarray, G: int, df: float | None, **extra) -> Term:
        t = self.data.treated
        return Term.from_estimate(
            self.estimand,
            est,
            se,
            df=df,
            n_obs=int(used.sum()),
            n_treated=int((used & t).sum()),
            n_comparison=int((used & ~t).sum()),
            n_clusters=G,
            **extra,
        )


def regressors(treated: np.ndarray, X: np.ndarray) -> np.ndarray:
    """[1, treated, X] with X centred (so the treated coefficient is the weighted difference at the mean)."""
    Xc = X - X.mean(axis=0) if X.shape[1] else X
    return np.column_stack([np.ones(treated.size), treated.astype(np.float64), Xc])


@dataclass
class MatchDesign(Design):
    """A matching design: pairs or subclasses with their weights; `pairs()` gives the long form."""

    replace: bool = False
    pair_table: pl.DataFrame | None = None
    caliper_dropped: np.ndarray | None = None

    def _caliper_dropped(self) -> np.ndarray:
        return self.caliper_dropped if self.caliper_dropped is not None else super()._caliper_dropped()

    def pairs(self) -> pl.DataFrame:
        """One row per matched (focal, comparison) pair: subclass, focal_row, comparison_row, distance."""
        if self.pair_table is None:
            raise ParameterError(f"{self.owner}.pairs: method '{self.method}' forms subclasses, not pairs")
        return self.pair_table

    def effect(self, outcome: str, *, covariates=None, cluster: str | None = None) -> EffectResult:
        """Weighted regression of `outcome` on treatment (+ covariates) in the matched sample, CR1 standard errors.

        Default clusters: the pair (matching without replacement, Abadie & Spiess 2022);
        each unit on its own (HC1) with replacement and for cem/exact subclasses.
        """
        used, y, X, covs, cl = self._outcome_and_covariates(outcome, covariates, cluster)
        notes = []
        if cluster is None and self.pair_table is not None and not self.replace:
            cl = self.subclass[used]
            inference = "CR1 clustered on matched pair/set (subclass)"
        elif cluster is None:
            inference = "HC1 (each unit its own cluster)"
            if self.replace:
                notes.append("matching with replacement: HC1 on the unit; a reused comparison unit enters once with its weight")
        else:
            inference = f"CR1 clustered on '{cluster}'"
        Z = regressors(self.data.treated[used], X)
        beta, V, G = wls_cluster(y, Z, self.weights[used], cl)
        term = self._term(beta[1], float(np.sqrt(V[1, 1])), used, G, float(G - 1))
        info = {"inference": inference, "outcome": outcome, "covariates": covs, "design": self.method, "n_clusters": G}
        return EffectResult(f"matching ({self.method}) + weighted regression", [term], info, self.notes + notes)


@dataclass
class WeightDesign(Design):
    """A weighting design; the weight model's estimating equations make the effect's variance honest."""

    model: object = None  # a weighting model exposing psi(), jac(), dw()

    def effect(self, outcome: str, *, covariates=None, cluster: str | None = None) -> EffectResult:
        """Weighted regression of `outcome` on treatment (+ covariates); M-estimation (sandwich) standard
        error stacking the weight model's equations, so the estimation of the weights is accounted for."""
        used, y, X, covs, cl = self._outcome_and_covariates(outcome, covariates, cluster)
        Z = regressors(self.data.treated[used], X)
        w = self.weights[used]
        beta, _, _ = wls_cluster(y, Z, w, None)
        e = y - Z @ beta
        psi_w, jac_w, dw = self.model.equations()  # weights are positive on every row: `used` is all rows
        q, k = jac_w.shape[0], Z.shape[1]
        psi = np.column_stack([psi_w, Z * (w * e)[:, None]])
        J = np.zeros((q + k, q + k))
        J[:q, :q] = jac_w
        J[q:, :q] = (Z * e[:, None]).T @ dw
        J[q:, q:] = -(Z * w[:, None]).T @ Z
        V, G = sandwich(psi, J, cl)
        term = self._term(beta[1], float(np.sqrt(V[q + 1, q + 1])), used, G, None)
        info = {
            "inference": "M-estimation sandwich (weights estimated)" + (f", clustered on '{cluster}'" if cluster else ""),
            "outcome": outcome,
            "covariates": covs,
            "design": self.method,
        }
        return EffectResult(f"weighting ({self.method}) + weighted regression", [term], info, list(self.notes))

    def aipw(self, outcome: str, *, covariates=None, cluster: str | None = None) -> EffectResult:
        """Doubly robust (augmented IPW) ATT: treated mean of Y - m0(X) minus the weighted comparison mean
        of Y - m0(X), with m0 a linear regression fitted on the comparison group (default covariates: the
        design's); M-estimation standard error stacking the weight model, m0 and the two means."""
        if self.estimand != "ATT":
            raise ParameterError(
                f"The 'estimand' of the design must be 'ATT' for {self.owner}.aipw. Got {self.estimand!r} instead."
            )
        covs = self.data.covariates if covariates is None else covariates
        used, y, X, covs, cl = self._outcome_and_covariates(outcome, covs, cluster)
        t = self.data.treated[used].astype(np.float64)
        c = 1.0 - t
        w = self.weights[used]
        X1 = np.column_stack([np.ones(y.size), X])
        gamma = np.linalg.lstsq(X1[c > 0], y[c > 0], rcond=None)[0]
        r = y - X1 @ gamma
        a = float(np.sum(t * r) / t.sum())
        b = float(np.sum(c * w * r) / np.sum(c * w))
        psi_w, jac_w, dw = self.model.equations()
        q, p = jac_w.shape[0], X1.shape[1]
        psi = np.column_stack([psi_w, X1 * (c * r)[:, None], t * (r - a), c * w * (r - b)])
        J = np.zeros((q + p + 2, q + p + 2))
        J[:q, :q] = jac_w
        J[q : q + p, q : q + p] = -(X1 * c[:, None]).T @ X1
        J[q + p, q : q + p] = -(t @ X1)
        J[q + p, q + p] = -t.sum()
        J[q + p + 1, :q] = (c * (r - b)) @ dw
        J[q + p + 1, q : q + p] = -((c * w) @ X1)
        J[q + p + 1, q + p + 1] = -np.sum(c * w)
        V, G = sandwich(psi, J, cl)
        grad = np.zeros(q + p + 2)
        grad[q + p], grad[q + p + 1] = 1.0, -1.0
        se = float(np.sqrt(grad @ V @ grad))
        term = self._term(a - b, se, used, G, None)
        info = {"inference": "M-estimation sandwich (weights and outcome model estimated)", "outcome": outcome,
                "covariates": covs, "design": self.method}
        return EffectResult(f"weighting ({self.method}) + AIPW", [term], info, list(self.notes))
