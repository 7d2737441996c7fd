"""Event study: one coefficient per period relative to treatment start, with a joint pre-trend test.

    y_it = a_i + g_t + sum_{e != reference} beta_e * D_i * 1{t - start_i = e} + X_it'c + e_it

Relative time e = time - treat_start for the treated group (treat_start a column of per-unit
start periods, or one common start). Periods listed in `exclude_periods` (calendar values of
`time`, e.g. the COVID years) are dropped before estimation, so they carry no coefficient and
do not enter the comparison. The pre-trend test is the Wald test that all beta_e with e < 0
are zero, reported as F = W / q on (q, df) degrees of freedom, df from the covariance used.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from ..errors import DataError, EstimationError
from ..frame import as_polars, require_binary, require_columns, require_no_missing, require_numeric
from ..params import check_columns_arg, check_number
from ..results import EffectResult, Term
from ._inputs import (Sample, build_sample, cluster_arg, factorize_columns, require_fixed_within, weights_arg,
                      with_interacted_fixed_effects)
from .ols import OLSFit, fit_ols_block


@dataclass
class EventStudyResult(EffectResult):
    """Per-period terms (extras: event_time, period, pre) plus the pre-trend Wald test and a plot."""

    pretrend: dict[str, float] = field(default_factory=dict)
    reference: int = -1
    excluded_event_times: list[int] = field(default_factory=list)

    def plot(self, path: str) -> str:
        """Write a PNG of the coefficients with 95% intervals; mark the reference and excluded periods."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        if not str(path).lower().endswith(".png"):
            raise ValueError(f"EventStudyResult.plot writes PNG only; got path {path!r} (use a .png name)")
        e = np.array([t.extra["event_time"] for t in self.terms], dtype=float)
        b = np.array([t.estimate for t in self.terms])
        lo = np.array([t.ci_low for t in self.terms])
        hi = np.array([t.ci_high for t in self.terms])
        fig, ax = plt.subplots(figsize=(7, 4))
        ax.axhline(0.0, color="grey", lw=0.8)
        ax.axvline(-0.5, color="grey", lw=0.8, ls=":")
        ax.errorbar(e, b, yerr=[b - lo, hi - b], fmt="o", color="C0", capsize=3, label="estimate, 95% CI")
        ax.plot([self.reference], [0.0], marker="s", color="black", ls="none", label=f"reference (e={self.reference})")
        for k, x in enumerate(self.excluded_event_times):
            ax.axvspan(x - 0.4, x + 0.4, color="C1", alpha=0.2, label="excluded period" if k == 0 else None)
        p = self.pretrend.get("p_value")
        title = "Event study" + (f" — pre-trend F p = {p:.3f}" if p is not None and np.isfinite(p) else "")
        ax.set(xlabel="periods relative to treatment start", ylabel="effect", title=title)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(path, format="png", dpi=120)
        plt.close(fig)
        return str(path)


def event_study(
    data: Any,
    outcome: str,
    treatment: str,
    time: str,
    *,
    treat_start: str | int | float,
    reference: int = -1,
    exclude_periods: Any = (),
    unit: str | None = None,
    fixed_effects: str | list[str] | None = None,
    covariates: str | list[str] | None = None,
    weights: str | np.ndarray | None = None,
    cluster: str | list[str] | None = None,
) -> EventStudyResult:
    """Estimate per-period effects relative to `treat_start` (a column or one common period) with TWFE.

    Fixed effects default to [unit, time] (or [time] plus a treated-group term without a unit).
    Standard errors are CR1 by `cluster` (default: `unit`), or HC1 when neither is given.
    """
    model = fit_event_study(
        "event_study", data, outcome, treatment, time, treat_start=treat_start, reference=reference,
        exclude_periods=exclude_periods, unit=unit, fixed_effects=fixed_effects, covariates=covariates,
        weights=weights, cluster=cluster,
    )
    fit = model.fit
    se = fit.std_errors()
    terms = [
        Term.from_estimate(nm, fit.coef[fit.index(nm)], se[fit.index(nm)], **model.term_facts(e))
        for e, nm in model.estimated()
    ]
    pre = [fit.index(t.term) for t in terms if t.extra["pre"]]
    pretrend = _joint_wald(fit.coef[pre], fit.vcov[np.ix_(pre, pre)], fit.df)
    return model.result("event_study", terms, pretrend)


@dataclass
class EventStudyModel:
    """The fitted event-study regression and what estimators built on it need (sample, event times, facts)."""

    owner: str
    fit: OLSFit
    sample: Sample
    frame: pl.DataFrame
    rel: np.ndarray  # event time of each sample row (NaN for the comparison group)
    terms_e: list[int]  # event times with a coefficient (all but the reference)
    names: list[str]  # coefficient names, the first len(terms_e) being e-3, e+0, ...
    start: np.ndarray  # treatment start of each row of `frame`
    common: bool  # one common start period for every treated unit
    n_treated: int
    info: dict[str, Any]
    notes: list[str]
    excluded_e: list[int]

    def estimated(self) -> list[tuple[int, str]]:
        """(event time, term name) of the event-time coefficients the fit kept; EstimationError if none."""
        kept = [(e, nm) for e, nm in zip(self.terms_e, self.names) if nm in self.fit.names]
        if not kept:
            raise EstimationError(f"{self.owner}: no event-time coefficient could be estimated")
        return kept

    def term_facts(self, e: int) -> dict[str, Any]:
        """Keyword arguments of Term.from_estimate shared by every event-time term: df, counts and extras."""
        fit = self.fit
        return dict(
            df=fit.df, n_obs=fit.n_obs, n_treated=self.n_treated, n_comparison=fit.n_obs - self.n_treated,
            n_clusters=self.info["n_clusters"], event_time=e,
            period=_calendar(self.start[0] + e) if self.common else None, pre=e < 0,
        )

    def result(self, method: str, terms: list[Term], pretrend: dict[str, float],
               extra_info: dict[str, Any] | None = None) -> EventStudyResult:
        """The EventStudyResult for `terms`, with the pre-trend test in `info` as event_study() reports it."""
        info = dict(self.info)
        info.update(pretrend_statistic=pretrend["statistic"], pretrend_df=pretrend["df1"],
                    pretrend_p_value=pretrend["p_value"], **(extra_info or {}))
        return EventStudyResult(method, terms, info, list(self.notes), pretrend=pretrend,
                                reference=info["reference"], excluded_event_times=self.excluded_e)


def fit_event_study(
    owner: str,
    data: Any,
    outcome: str,
    treatment: str,
    time: str,
    *,
    treat_start: str | int | float,
    reference: int,
    exclude_periods: Any,
    unit: str | None,
    fixed_effects: str | list[str] | None,
    covariates: str | list[str] | None,
    weights: str | np.ndarray | None,
    cluster: str | list[str] | None,
    keep_data: bool = False,
) -> EventStudyModel:
    """Check the inputs and fit the event-study regression of event_study() (keep_data: keep the demeaned data).

    Shared by event_study() and the estimators built on its model (threshold_event_study), so both fit
    the same regression on the same sample and fail with the same messages (named after `owner`).
    """
    check_number(owner, "reference", reference, integer=True)
    df = as_polars(data, owner=owner)
    fes = check_columns_arg(owner, "fixed_effects", fixed_effects, allow_none=True)
    covs = check_columns_arg(owner, "covariates", covariates, allow_none=True)
    clusters = cluster_arg(owner, cluster)
    excluded = list(exclude_periods) if not isinstance(exclude_periods, (str, int, float)) else [exclude_periods]
    notes: list[str] = []
    if fixed_effects is None:
        fes = [c for c in (unit, time) if c is not None]
        notes.append(f"fixed effects absorbed: {', '.join(fes)} (default)")
    if not clusters and unit is not None:
        clusters = [unit]
        notes.append(f"standard errors clustered by unit '{unit}' (default)")
    elif not clusters:
        notes.append("no cluster or unit given: heteroskedasticity-robust (HC1) standard errors")
    start_col = treat_start if isinstance(treat_start, str) else None
    df = with_interacted_fixed_effects(df, fes, owner=owner)
    used = list(dict.fromkeys([outcome, treatment, time, *covs, *fes, *clusters, *(c for c in (unit,) if c)]))
    require_columns(df, used + ([start_col] if start_col else []), owner=owner)
    require_no_missing(df, used, owner=owner)
    require_numeric(df, [outcome, time, *covs], owner=owner)
    require_binary(df, treatment, owner=owner, role="treatment")
    if excluded:
        before = df.height
        df = df.filter(~pl.col(time).is_in(excluded))
        notes.append(
            f"periods {excluded} of '{time}' excluded from estimation ({before - df.height} rows dropped)"
        )
    treated = df.get_column(treatment).cast(pl.Float64).to_numpy() == 1
    t = df.get_column(time).cast(pl.Float64).to_numpy()
    if start_col:
        require_numeric(df, [start_col], owner=owner)
        start = df.get_column(start_col).cast(pl.Float64).to_numpy()
        missing = treated & np.isnan(start)
        if missing.any():
            raise DataError(
                f"{owner}: treat_start column '{start_col}' is missing for {int(missing.sum())} treated row(s); "
                "give every treated unit its first treated period"
            )
    else:
        check_number(owner, "treat_start", treat_start)
        start = np.full(df.height, float(treat_start))
    rel = np.where(treated, np.round(t - np.where(treated, start, 0.0)), np.nan)
    terms_e = event_terms(owner, sorted(int(e) for e in np.unique(rel[treated])), reference)
    weight_name, w = weights_arg(owner, df, weights)
    codes = factorize_columns(df, fes + clusters + ([unit] if unit else []))
    if unit is not None:
        require_fixed_within(
            df, treatment, unit, codes[unit], owner=owner,
            why="code treatment as 'ever in the treated group' and carry the timing in treat_start",
        )
        if start_col:
            require_fixed_within(df.with_columns(pl.col(start_col).cast(pl.Float64).fill_nan(None).fill_null(-np.inf)), start_col, unit, codes[unit],
                                 owner=owner, why="give each unit one first treated period")
    sample = build_sample(df, fes, clusters, w, codes)
    del codes
    notes.extend(sample.notes)
    rel_k = sample.take(rel)
    names = [f"e{e:+d}" for e in terms_e] + [treatment, *covs] + ([] if fes else ["(intercept)"])
    n = rel_k.size
    block = np.empty((n, 1 + len(names)), order="F")
    block[:, 0] = sample.take(df.get_column(outcome).cast(pl.Float64).to_numpy())
    for j, e in enumerate(terms_e):
        block[:, 1 + j] = rel_k == e
    col = 1 + len(terms_e)
    block[:, col] = sample.take(treated.astype(np.float64))
    for j, c in enumerate(covs):
        block[:, col + 1 + j] = sample.take(df.get_column(c).cast(pl.Float64).to_numpy())
    if not fes:
        block[:, -1] = 1.0
    n_treated = int(sample.take(treated).sum())
    fit = fit_ols_block(
        block, names, weights=sample.weights, fe=sample.fe_codes or None, cluster=sample.cluster_codes or None,
        vcov="cluster" if clusters else "robust", keep_data=keep_data,
    )
    lost = [nm for nm in fit.dropped if nm in names[: len(terms_e)]]
    if lost:
        notes.append(f"event-time terms collinear with the fixed effects, not estimated: {', '.join(lost)}")
    n_clusters = min(fit.n_clusters) if fit.n_clusters else None
    common = start_col is None
    excluded_e = sorted({int(round(x - float(start[0]))) for x in excluded}) if common and excluded else []
    if excluded and not common:
        notes.append("excluded calendar periods fall at different event times for different cohorts")
    info = {
        "n_obs": fit.n_obs, "n_clusters": n_clusters, "df": fit.df, "k": fit.k,
        "inference": "cluster" if clusters else "robust", "cluster": clusters or None,
        "fixed_effects": fes or None, "reference": reference, "excluded_periods": excluded,
        "dropped_singletons": sample.n_singletons, "weights": weight_name, "absorb_method": fit.absorb_method,
    }
    return EventStudyModel(owner, fit, sample, df, rel_k, terms_e, names, start, common, n_treated, info, notes, excluded_e)


def event_terms(owner: str, event_times: list[int], reference: int) -> list[int]:
    """The estimated event times: those observed for the treated group but the reference, which must be
    among them, as must a pre-period."""
    if reference not in event_times:
        raise DataError(
            f"{owner}: the treated group is never observed at the reference period e={reference} "
            f"(observed event times: {event_times}); choose reference= one of them"
        )
    if min(event_times) >= 0:
        raise DataError(
            f"{owner}: the treated group is never observed before treatment (event times {event_times}); "
            "an event study needs pre-period data"
        )
    return [e for e in event_times if e != reference]


def _calendar(value: float) -> int | float:
    """A calendar period as the user wrote it: whole numbers (years) as int, not 2016.0."""
    return int(value) if float(value).is_integer() else float(value)


def _joint_wald(b: np.ndarray, v: np.ndarray, df: float) -> dict[str, float]:
    """F = b'V^-1 b / q against F(q, df); NaN when there are no pre-period terms or V is singular
    (e.g. an outcome without residual variation)."""
    q = b.size
    try:
        f = float(b @ np.linalg.solve(v, b)) / q if q else None
    except np.linalg.LinAlgError:
        f = None
    if f is None:
        nan = float("nan")
        return {"statistic": nan, "df1": float(q), "df2": float(df), "p_value": nan}
    return {"statistic": f, "df1": float(q), "df2": float(df), "p_value": float(stats.f.sf(f, q, df))}
