"""Group-time average treatment effects under staggered adoption (Callaway & Sant'Anna 2021).

`att_gt` estimates every ATT(g,t) once, with its influence function per unit (panel) or per
observation (repeated cross-sections); `ATTgtResult.aggregate` turns them into simple,
event-time, group or calendar summaries without re-estimating, so standard errors stay right.
See docs/explanation/staggered.md for the estimands and conventions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from ..errors import DataError, EstimationError, ParameterError
from ..params import check_choice, check_columns_arg, check_number
from ..results import EffectResult, Term
from ._cs_aggregate import KINDS, aggregate_cells
from ._cs_bootstrap import cluster_sums, std_errors, sup_t_critical
from ._cs_data import OWNER, StaggeredData, prepare
from ._cs_drdid import CROSS_SECTION, PANEL

LEVEL = 0.95


@dataclass(frozen=True)
class _Cells:
    """Everything aggregate() needs: the cells, their estimates and influence functions."""

    group: np.ndarray
    time: np.ndarray
    base: np.ndarray
    att: np.ndarray
    inf: np.ndarray
    data: StaggeredData
    bootstrap_reps: int
    seed: int | None


def _bands(estimate: np.ndarray, se: np.ndarray, crit: float) -> tuple[np.ndarray, np.ndarray]:
    if not math.isfinite(crit):
        nan = np.full(estimate.shape, np.nan)
        return nan, nan
    return estimate - crit * se, estimate + crit * se


@dataclass(repr=False)
class AggregateResult(EffectResult):
    """Aggregated group-time effects; `influence` has one column per term (overall last)."""

    kind: str = ""
    weights: np.ndarray | None = field(default=None, repr=False)
    influence: np.ndarray | None = field(default=None, repr=False)


@dataclass(repr=False)
class ATTgtResult(EffectResult):
    """ATT(g,t) terms (one per group and period) plus the influence functions behind them."""

    cells: _Cells | None = field(default=None, repr=False)

    @property
    def influence(self) -> np.ndarray:
        """Influence functions, one row per unit (panel) or observation, one column per term."""
        assert self.cells is not None
        return self.cells.inf

    def aggregate(
        self,
        kind: str = "simple",
        *,
        min_e: float = -math.inf,
        max_e: float = math.inf,
        balance_e: int | None = None,
    ) -> AggregateResult:
        """Simple, dynamic (event-time), group or calendar aggregate of the ATT(g,t), with bands.

        Uses the stored influence functions (never re-estimates); the simultaneous band over the
        per-event-time/group/period effects uses the same multiplier bootstrap and seed as att_gt.
        """
        owner = "ATTgtResult.aggregate"
        check_choice(owner, "kind", kind, KINDS)
        check_number(owner, "min_e", min_e)
        check_number(owner, "max_e", max_e)
        check_number(owner, "balance_e", balance_e, low=0, integer=True, allow_none=True)
        c = self.cells
        assert c is not None
        d = c.data
        agg = aggregate_cells(
            kind, c.group, c.time, c.att, c.inf, d.unit_group, min_e=min_e, max_e=max_e, balance_e=balance_e,
            last_period=int(d.periods[-1]), first_period=int(d.periods[0]),
        )
        if kind != "simple" and agg.att.size == 0:
            raise EstimationError(f"{owner}: no group-time effects fall in the requested range for '{kind}'")
        inf_all = np.column_stack([agg.inf, agg.overall_inf])
        psi = cluster_sums(inf_all, d.cluster_code, d.n_clusters)
        se = std_errors(psi, d.n_units)
        crit = float("nan")
        if kind != "simple":
            crit = sup_t_critical(psi[:, :-1], se[:-1], d.n_units, c.bootstrap_reps, c.seed, LEVEL)
        lo, hi = _bands(agg.att, se[:-1], crit)
        key_name = {"dynamic": "event_time", "group": "group", "calendar": "time"}.get(kind)
        label = {"dynamic": "e", "group": "g", "calendar": "t"}.get(kind)
        terms = []
        counts = dict(n_obs=d.n_units, n_clusters=d.n_clusters)
        for r in range(agg.att.size):
            key = int(agg.keys[r])
            terms.append(Term.from_estimate(
                f"ATT({label}={key})", agg.att[r], se[r], level=LEVEL,
                n_treated=_n_treated(c, d, agg.weights[r]), **counts,
                **{key_name: key, "overall": False, "cband_low": float(lo[r]), "cband_high": float(hi[r])},
            ))
        extra_overall: dict[str, Any] = {"overall": True, "cband_low": None, "cband_high": None}
        if key_name:
            extra_overall = {key_name: None, **extra_overall}
        terms.append(Term.from_estimate(
            "ATT(simple)" if kind == "simple" else f"ATT({kind} average)", agg.overall_att, se[-1], level=LEVEL,
            n_treated=_n_treated(c, d, agg.overall_weights), **counts, **extra_overall,
        ))
        info = {**{k: v for k, v in self.info.items() if k != "critical_value"}, "aggregation": kind,
                "critical_value": crit, "min_e": min_e, "max_e": max_e, "balance_e": balance_e}
        return AggregateResult(
            method=f"Callaway-Sant'Anna {kind} aggregation", terms=terms, info=info, notes=list(self.notes),
            level=LEVEL, kind=kind, weights=np.vstack([agg.weights, agg.overall_weights]), influence=inf_all,
        )


def _n_treated(c: _Cells, d: StaggeredData, weights: np.ndarray) -> int:
    """Number of units (observations) in the groups that receive positive weight."""
    gs = np.unique(c.group[np.nan_to_num(weights) > 0])
    return int(np.isin(d.unit_group, gs).sum())


def att_gt(
    data: Any,
    outcome: str,
    unit: str,
    time: str,
    group: str,
    *,
    control: str = "never_treated",
    method: str = "dr",
    covariates: str | list[str] | None = None,
    anticipation: int = 0,
    base_period: str = "varying",
    panel: bool = True,
    cluster: str | None = None,
    bootstrap_reps: int = 999,
    seed: int | None = None,
) -> ATTgtResult:
    """Group-time ATTs of Callaway & Sant'Anna (2021) with influence-function standard errors.

    `group` holds each unit's first treated period, 0 for never treated. `control` chooses the
    comparison units (never treated, or also not yet treated); `method` the two-period estimator
    ("dr" improved doubly robust, "ipw" normalised IPW, "reg" outcome regression). Standard errors
    are analytical from the influence functions (summed within `cluster` when given); the
    simultaneous band uses a Mammen multiplier bootstrap with `bootstrap_reps` draws (0 = none).
    """
    check_choice(OWNER, "control", control, ("never_treated", "not_yet_treated"))
    check_choice(OWNER, "method", method, ("dr", "ipw", "reg"))
    check_choice(OWNER, "base_period", base_period, ("varying", "universal"))
    check_choice(OWNER, "panel", panel, (True, False))
    check_number(OWNER, "anticipation", anticipation, low=0, integer=True)
    check_number(OWNER, "bootstrap_reps", bootstrap_reps, low=0, integer=True)
    check_number(OWNER, "seed", seed, low=0, integer=True, allow_none=True)
    for name, value in (("outcome", outcome), ("unit", unit), ("time", time), ("group", group), ("cluster", cluster)):
        if not (isinstance(value, str) or (name == "cluster" and value is None)):
            raise ParameterError(f"The '{name}' parameter of {OWNER} must be a single column name. Got {value!r} instead.")
    covs = check_columns_arg(OWNER, "covariates", covariates, allow_none=True)

    d = prepare(data, outcome, unit, time, group, covs, cluster, anticipation, panel)
    notes = list(d.notes)
    if control == "never_treated" and not np.any(d.unit_group == 0):
        raise DataError(
            f"{OWNER}: control='never_treated' but no unit has {group} = 0 (never treated); "
            "use control='not_yet_treated' or add never-treated units"
        )
    groups = np.unique(d.unit_group[(d.unit_group > 0) & (d.unit_group <= d.periods[-1])])
    if groups.size == 0:
        raise DataError(f"{OWNER}: no unit is treated within the observed periods of '{time}'")

    cells, skipped = _estimate_cells(d, groups, control, method, anticipation, base_period, covs)
    if skipped:
        notes.append("no comparison units, so not estimated: " + ", ".join(skipped))
    if not cells:
        raise EstimationError(f"{OWNER}: no ATT(g,t) could be estimated (no comparison units for any cell)")
    gr, tm, bs, att, cols, counts = zip(*cells)
    inf = np.column_stack(cols)
    psi = cluster_sums(inf, d.cluster_code, d.n_clusters)
    se = std_errors(psi, d.n_units)
    crit = sup_t_critical(psi, se, d.n_units, bootstrap_reps, seed, LEVEL)
    att_a = np.array(att)
    lo, hi = _bands(att_a, se, crit)
    terms = [
        Term.from_estimate(
            f"ATT({g},{t})", a, s, level=LEVEL, n_obs=nt + nc, n_treated=nt, n_comparison=nc, n_clusters=ncl,
            group=int(g), time=int(t), event_time=int(t - g), base_time=int(b),
            cband_low=float(l), cband_high=float(h),
        )
        for g, t, b, a, s, (nt, nc, ncl), l, h in zip(gr, tm, bs, att_a, se, counts, lo, hi)
    ]
    info = {
        "n_units": d.n_ids, "n_obs": int(d.y.size), "n_clusters": d.n_clusters, "cluster": cluster,
        "control": control, "method": method, "base_period": base_period, "anticipation": anticipation,
        "panel": panel, "covariates": covs, "bootstrap_reps": bootstrap_reps, "bootstrap_weights": "Mammen",
        "seed": seed, "critical_value": crit, "pointwise_critical_value": float(stats.norm.ppf(0.5 + LEVEL / 2)),
    }
    return ATTgtResult(
        method=f"Callaway-Sant'Anna ATT(g,t) ({method})", terms=terms, info=info, notes=notes, level=LEVEL,
        cells=_Cells(np.array(gr), np.array(tm), np.array(bs), att_a, inf, d, bootstrap_reps, seed),
    )


def _cell_plan(periods: np.ndarray, g: int, anticipation: int, base_period: str):
    """Yield (current period index, base period index) for group g, as in R's `did`."""
    pre = np.flatnonzero(periods + anticipation < g)
    ref = int(pre[-1])  # exists: groups without an untreated period were dropped in prepare()
    if base_period == "universal":
        return [(j, ref) for j in range(periods.size) if j != ref]
    return [(j, ref if periods[j] >= g else j - 1) for j in range(1, periods.size)]


def _estimate_cells(d: StaggeredData, groups, control, method, anticipation, base_period, covs):
    """Estimate each ATT(g,t); return the cells and the names of cells with no comparison units."""
    n = d.n_units
    ug = d.unit_group
    never = ug == 0
    cells, skipped = [], []
    for g in groups:
        treat = ug == g
        for j, b in _cell_plan(d.periods, int(g), anticipation, base_period):
            t = d.periods[j]
            ctrl = never
            if control == "not_yet_treated":
                ctrl = never | ((ug > d.periods[max(j, b)] + anticipation) & ~treat)
            if not ctrl.any():
                skipped.append(f"ATT({g},{t})")
                continue
            if d.panel:
                idx = np.flatnonzero(treat | ctrl)
                x = _design(None if d.x is None else d.x[idx, b, :], idx.size)
                att, inf = _run(PANEL[method], g, t, d.y[idx, j] - d.y[idx, b], treat[idx].astype(float), x)
            else:
                idx = np.flatnonzero((treat | ctrl) & ((d.obs_period == j) | (d.obs_period == b)))
                x = _design(None if d.x is None else d.x[idx], idx.size)
                post = (d.obs_period[idx] == j).astype(float)
                dd = treat[idx].astype(float)
                _require_both(dd, post, g, t)
                att, inf = _run(CROSS_SECTION[method], g, t, d.y[idx], post, dd, x)
            col = np.zeros(n)
            col[idx] = inf * (n / idx.size)
            nt = int(treat[idx].sum())
            ncl = None
            if d.cluster_code is not None:
                ncl = int(np.count_nonzero(np.bincount(d.cluster_code[idx], minlength=d.n_clusters)))
            cells.append((g, t, d.periods[b], att, col, (nt, idx.size - nt, ncl)))
    return cells, skipped


def _run(estimator, g, t, *args):
    """Call a two-period estimator, naming the cell in any estimation error."""
    try:
        return estimator(*args)
    except EstimationError as err:
        raise EstimationError(f"{OWNER}: ATT({g},{t}): {err}") from None


def _design(x: np.ndarray | None, n: int) -> np.ndarray:
    ones = np.ones((n, 1))
    return ones if x is None else np.hstack([ones, x])


def _require_both(d: np.ndarray, post: np.ndarray, g, t) -> None:
    """Repeated cross-sections need treated and comparison observations in both periods."""
    for name, mask in (("treated", d == 1), ("comparison", d == 0)):
        if not (post[mask] == 1).any() or not (post[mask] == 0).any():
            raise EstimationError(
                f"{OWNER}: ATT({g},{t}) has no {name} observations in one of its two periods; "
                "check the data for that group and period"
            )
