"""Check and reshape the input of att_gt into arrays: one row per unit (panel) or per observation.

Conventions (documented in docs/explanation/staggered.md):
- `group` holds the first period in which a unit is treated; 0 means never treated (as in R's
  `did`). Nulls are an error, so a missing adoption date is never silently read as "never".
- Units whose group is later than the last period + anticipation are never treated within the
  data and are recoded to 0 (with a note).
- Units treated before or at the first period (no untreated period given `anticipation`) are
  dropped with a note: their effects are not identified.
- Panel covariates are taken at each comparison's base period; a note says when they vary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from ..errors import DataError
from ..frame import as_polars, require_columns, require_no_missing, require_numeric

OWNER = "att_gt"


@dataclass(frozen=True)
class StaggeredData:
    """Arrays the group-time estimators work on.

    Panel: `y` is (n_units, n_periods), `x` is (n_units, n_periods, k) or None, and `obs_period`
    is None. Repeated cross-sections: `y` is (n_obs,), `x` is (n_obs, k) or None, and
    `obs_period` gives each observation's period index. `unit_group` and `cluster_code` have
    one entry per row of `y`; `n_units` is that number of rows (the n of the influence
    functions) and `n_ids` the number of distinct unit ids.
    """

    periods: np.ndarray
    y: np.ndarray
    x: np.ndarray | None
    obs_period: np.ndarray | None
    unit_group: np.ndarray
    cluster_code: np.ndarray | None
    n_clusters: int | None
    n_units: int
    n_ids: int
    notes: tuple[str, ...]

    @property
    def panel(self) -> bool:
        return self.obs_period is None


def _count_varying(df: pl.DataFrame, unit: str, column: str) -> int:
    """Number of units in which `column` takes more than one value."""
    return int((df.group_by(unit).agg(pl.col(column).n_unique().alias("k")).get_column("k") > 1).sum())


def _integer_valued(df: pl.DataFrame, column: str) -> np.ndarray:
    v = df.get_column(column).cast(pl.Float64).to_numpy()
    if not np.all(np.isfinite(v)) or np.any(v != np.round(v)):
        raise DataError(
            f"{OWNER}: column '{column}' must hold whole numbers (periods such as 2022); "
            "recode it to integer periods first"
        )
    return v.astype(np.int64)


def prepare(
    data: Any,
    outcome: str,
    unit: str,
    time: str,
    group: str,
    covariates: list[str],
    cluster: str | None,
    anticipation: int,
    panel: bool,
) -> StaggeredData:
    """Validate the frame and return the arrays used by the estimators (see module docstring)."""
    df = as_polars(data, owner=OWNER)
    used = list(dict.fromkeys([outcome, unit, time, group, *covariates, *([cluster] if cluster else [])]))
    require_columns(df, used, owner=OWNER)
    df = df.select(used)
    n_null_group = df.get_column(group).null_count()
    if n_null_group:
        raise DataError(
            f"{OWNER}: group column '{group}' has {n_null_group} missing value(s) of {df.height} rows; "
            "never-treated units must have group 0 (e.g. fill_null(0)) and treated units their first treated period"
        )
    require_no_missing(df, used, owner=OWNER)
    require_numeric(df, [outcome, time, group, *covariates], owner=OWNER)
    notes: list[str] = []

    bad = _count_varying(df, unit, group)
    if bad:
        raise DataError(
            f"{OWNER}: group column '{group}' varies within unit for {bad} unit(s); it must hold each "
            "unit's first treated period (0 = never treated) on every row of that unit"
        )
    if cluster is not None:
        bad = _count_varying(df, unit, cluster)
        if bad:
            raise DataError(
                f"{OWNER}: cluster column '{cluster}' varies within unit for {bad} unit(s); clusters must "
                "nest units (e.g. the local authority at first observation)"
            )

    t_all = _integer_valued(df, time)
    g_all = _integer_valued(df, group)
    if np.any(g_all < 0):
        raise DataError(f"{OWNER}: group column '{group}' has negative values; use 0 for never-treated units")
    periods = np.unique(t_all)
    if periods.size < 2:
        raise DataError(f"{OWNER}: column '{time}' has {periods.size} distinct period(s); at least 2 are needed")

    late = g_all > periods[-1] + anticipation
    if late.any():
        n_late = int(df.filter(pl.Series(late)).get_column(unit).n_unique())
        notes.append(
            f"{n_late} unit(s) first treated after the last period ({periods[-1]}) are treated as never treated"
        )
        g_all = np.where(late, 0, g_all)
    early = (g_all > 0) & (g_all - anticipation <= periods[0])
    if early.any():
        dropped = df.filter(pl.Series(early))
        n_early = int(dropped.get_column(unit).n_unique())
        gs = sorted(set(g_all[early].tolist()))
        notes.append(
            f"dropped {n_early} unit(s) of group(s) {gs}: treated from the first period ({periods[0]}) "
            f"given anticipation={anticipation}, so no untreated period identifies their effects"
        )
        keep = pl.Series(~early)
        df, t_all, g_all = df.filter(keep), t_all[~early], g_all[~early]
    if df.height == 0:
        raise DataError(f"{OWNER}: no units left after dropping units treated in the first period")

    period_index = np.searchsorted(periods, t_all)
    y_all = df.get_column(outcome).cast(pl.Float64).to_numpy()
    x_all = df.select(covariates).cast(pl.Float64).to_numpy() if covariates else None
    unit_codes = df.get_column(unit).rank("dense").cast(pl.Int64).to_numpy() - 1
    n_units = int(unit_codes.max()) + 1
    cl_codes = None
    n_clusters = None
    if cluster is not None:
        cl_codes = df.get_column(cluster).rank("dense").cast(pl.Int64).to_numpy() - 1
        n_clusters = int(cl_codes.max()) + 1

    if not panel:
        return StaggeredData(
            periods, y_all, x_all, period_index, g_all, cl_codes, n_clusters, df.height, n_units, tuple(notes)
        )

    n_periods = periods.size
    cell = unit_codes * n_periods + period_index
    counts = np.bincount(cell, minlength=n_units * n_periods)
    if np.any(counts > 1):
        n_dup = int(np.count_nonzero(counts.reshape(n_units, n_periods).max(axis=1) > 1))
        raise DataError(
            f"{OWNER}: {n_dup} unit(s) have more than one row in a period of '{time}'; a panel needs one row "
            f"per ('{unit}', '{time}'); aggregate the duplicates or use panel=False"
        )
    gaps = int(np.count_nonzero(counts.reshape(n_units, n_periods).min(axis=1) == 0))
    if gaps:
        raise DataError(
            f"{OWNER}: the panel is unbalanced: {gaps} of {n_units} unit(s) are missing from at least one of "
            f"the {n_periods} periods; keep only units observed in every period, or use panel=False "
            "(repeated cross-sections)"
        )
    order = np.argsort(cell, kind="stable")
    y = y_all[order].reshape(n_units, n_periods)
    first = order.reshape(n_units, n_periods)[:, 0]
    x = None
    if x_all is not None:
        x = x_all[order].reshape(n_units, n_periods, len(covariates))
        varying = np.any(x != x[:, :1, :], axis=(1, 2))
        if varying.any():
            notes.append(
                f"covariates vary over time within {int(varying.sum())} unit(s); each comparison uses their "
                "values in its base period"
            )
    return StaggeredData(
        periods,
        y,
        x,
        None,
        g_all[first],
        None if cl_codes is None else cl_codes[first],
        n_clusters,
        n_units,
        n_units,
        tuple(notes),
    )
