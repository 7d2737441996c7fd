"""Input handling shared by did() and event_study(): argument checks, data checks, codes and masks.

Everything that turns a user's frame and column arguments into numpy arrays lives here, so the
two estimators raise the same errors for the same misuse.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from ..errors import DataError, ParameterError
from ..frame import require_columns, require_no_missing, require_numeric
from ..params import check_columns_arg
from .absorb import factorize, recode, singleton_mask, varying_groups


def weights_arg(owner: str, df: pl.DataFrame, weights: Any) -> tuple[str | None, np.ndarray | None]:
    """Resolve `weights` (a column name, an array aligned to rows, or None) to (column, float64 array).

    Negative or missing weights are an error; zero weights are allowed (rows are dropped later).
    """
    if weights is None:
        return None, None
    if isinstance(weights, str):
        require_columns(df, [weights], owner=owner, role="weights column")
        require_numeric(df, [weights], owner=owner, role="weights column")
        require_no_missing(df, [weights], owner=owner)
        w = df.get_column(weights).cast(pl.Float64).to_numpy()
        name = weights
    else:
        try:
            w = np.asarray(weights, dtype=np.float64).ravel()
        except (TypeError, ValueError):
            raise ParameterError(
                f"The 'weights' parameter of {owner} must be a column name or an array of numbers aligned to the "
                f"rows. Got {type(weights).__name__} instead."
            ) from None
        if w.size != df.height:
            raise ParameterError(
                f"The 'weights' parameter of {owner} must have one value per row ({df.height}). Got {w.size} values "
                "instead; pass the weights array of a design built on this same frame."
            )
        if np.isnan(w).any():
            raise DataError(f"{owner}: weights have {int(np.isnan(w).sum())} missing value(s); drop those rows first")
        name = "<array>"
    if (w < 0).any() or not np.isfinite(w).all():
        raise DataError(
            f"{owner}: weights ({name}) must be finite and >= 0; {int((w < 0).sum() + (~np.isfinite(w)).sum())} "
            "row(s) are not"
        )
    if not (w > 0).any():
        raise DataError(f"{owner}: every weight ({name}) is zero; nothing to estimate")
    return name, w


INTERACTION = "^"


def interaction_parts(df: pl.DataFrame, fe: str, *, owner: str) -> tuple[str, ...]:
    """The columns of fixed effect `fe`: its parts when it is an interaction `a^b[^c]` (checked to exist),
    else (fe,) (also when a column is literally named `a^b`)."""
    if INTERACTION not in fe or fe in df.columns:
        return (fe,)
    parts = fe.split(INTERACTION)
    if len(set(parts)) != len(parts) or not all(parts):
        raise ParameterError(
            f"The 'fixed_effects' parameter of {owner} has a malformed interaction {fe!r}; write distinct "
            f"column names joined by '{INTERACTION}', e.g. 'year{INTERACTION}la'."
        )
    require_columns(df, parts, owner=owner, role=f"part of the fixed effect '{fe}'")
    return tuple(parts)


def with_interacted_fixed_effects(df: pl.DataFrame, fixed_effects: list[str], *, owner: str) -> pl.DataFrame:
    """Add a column for each interacted fixed effect `a^b[^c]` (one level per observed combination).

    The interaction is missing where any part is missing, so the usual missing-value check names it.
    """
    for fe in fixed_effects:
        parts = interaction_parts(df, fe, owner=owner)
        if len(parts) == 1:
            continue
        missing = pl.any_horizontal(pl.col(parts).is_null())
        df = df.with_columns(pl.when(missing).then(None).otherwise(pl.struct(parts).rank("dense")).alias(fe))
    return df


def cluster_arg(owner: str, cluster: Any) -> list[str]:
    cols = check_columns_arg(owner, "cluster", cluster, allow_none=True)
    if len(cols) > 2:
        raise ParameterError(
            f"The 'cluster' parameter of {owner} must name one or two columns. Got {cols!r} instead."
        )
    return cols


def require_fixed_within(
    df: pl.DataFrame, column: str, unit: str, codes: np.ndarray, *, owner: str, why: str
) -> None:
    """Raise DataError if `column` takes more than one value within some unit (codes: the unit's dense codes)."""
    values = df.get_column(column).to_numpy()
    n_varying = varying_groups(values, codes)
    if n_varying:
        raise DataError(
            f"{owner}: column '{column}' varies within unit '{unit}' for {n_varying} of {int(codes.max()) + 1} "
            f"units; {why}"
        )


@dataclass
class Sample:
    """Estimation sample after dropping zero-weight rows and singleton fixed-effect groups."""

    n: int
    keep: np.ndarray | None
    fe_codes: list[np.ndarray]
    cluster_codes: list[np.ndarray]
    weights: np.ndarray | None
    n_singletons: int
    n_zero_weight: int
    notes: list[str] = field(default_factory=list)
    effective_clusters: float | None = None  # the smallest over cluster dimensions; None without clusters

    def take(self, a: np.ndarray) -> np.ndarray:
        return a if self.keep is None else a[self.keep]


def factorize_columns(df: pl.DataFrame, columns: list[str]) -> dict[str, np.ndarray]:
    """Dense codes for each named column, computed once and shared by fixed effects, clusters and checks."""
    return {c: factorize(df.get_column(c))[0] for c in dict.fromkeys(columns)}


FEW_CLUSTERS = 20
"""Below this many clusters, or this effective number, a sample carries a note: CR1 intervals
under-cover with few clusters (Cameron, Gelbach and Miller 2008) and with clusters of very unequal
size (MacKinnon and Webb 2017), where the wild bootstrap holds up better."""


def effective_clusters(codes: np.ndarray) -> float:
    """(sum n_g)^2 / sum n_g^2: the number of equal clusters with the same concentration of rows. Two
    large LAs and twenty with a pupil each who moved there count as about 2, not 22."""
    sizes = np.bincount(codes).astype(np.float64)
    return float(sizes.sum() ** 2 / (sizes @ sizes))


def build_sample(
    df: pl.DataFrame,
    fixed_effects: list[str],
    cluster: list[str],
    weights: np.ndarray | None,
    codes: dict[str, np.ndarray] | None = None,
) -> Sample:
    """Drop zero weights and (iteratively) singleton fixed-effect groups; return dense codes on the kept rows."""
    codes = codes if codes is not None else factorize_columns(df, fixed_effects + cluster)
    n = df.height
    keep = np.ones(n, dtype=bool)
    n_zero = 0
    if weights is not None:
        keep &= weights > 0
        n_zero = int(n - keep.sum())
    fe_codes = [codes[c] for c in fixed_effects]
    n_single = 0
    if fe_codes:
        single = singleton_mask([c[keep] for c in fe_codes])
        n_single = int((~single).sum())
        keep[np.flatnonzero(keep)[~single]] = False
    notes = []
    if n_zero:
        notes.append(f"{n_zero} row(s) with zero weight were dropped")
    if n_single:
        notes.append(
            f"{n_single} row(s) in singleton fixed-effect groups ({', '.join(fixed_effects)}) were dropped, "
            "iteratively, as fixest does"
        )
    all_kept = bool(keep.all())
    mask = None if all_kept else keep
    fe_codes = [c if all_kept else recode(c[keep])[0] for c in fe_codes]
    cl_codes = [codes[c] for c in cluster]
    cl_codes = [c if all_kept else recode(c[keep])[0] for c in cl_codes]
    effective = []
    for name, c in zip(cluster, cl_codes):
        if not c.size:
            continue
        g, e = int(c.max()) + 1, effective_clusters(c)
        effective.append(e)
        if e < FEW_CLUSTERS:  # e <= g
            size = f"only {g} clusters" if g < FEW_CLUSTERS else f"{g} clusters but effectively {e:.1f} by their sizes"
            notes.append(
                f"{size} of '{name}': cluster-robust standard errors and intervals tend to be too narrow with fewer "
                f"than about {FEW_CLUSTERS} (did() offers the wild cluster restricted bootstrap: inference='wild')"
            )
    w = None if weights is None else (weights if all_kept else weights[keep])
    return Sample(int(keep.sum()), mask, fe_codes, cl_codes, w, n_single, n_zero, notes,
                  min(effective) if effective else None)
