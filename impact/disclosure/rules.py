"""The cell-level disclosure rules, vectorised over arrays of cells, and the names of the checks.

Check names are the keys of CheckedTable.cells and of the `sdc` blocks in disclosure.json.
"""
from __future__ import annotations

import numpy as np

from .config import DisclosureConfig
from .identifiers import matches_any

THRESHOLD = "threshold"  # a count, or the n behind a statistic, below min_count
ZEROS = "zeros"  # a zero count while zeros are disclosive
SECONDARY = "secondary"  # suppressed so that a primary cell cannot be recovered from margins
LINKED = "secondary-linked"  # suppressed so that no count can be recovered from other tables of the run
NK = "nk-rule"  # top nk_n contributions >= nk_k of the cell total
P_RATIO = "p-ratio"  # (total - top1 - top2) / top1 < p_ratio
NEGATIVE = "negative"  # negative contributions: dominance undefined, checker reviews
DOMINANCE_UNKNOWN = "dominance-unknown"  # contributions not supplied, dominance not evaluated
DOF = "dof"  # residual degrees of freedom below min_dof
DOF_UNKNOWN = "dof-unknown"  # no df, n_clusters or df_resid to check
EXTREMES = "extremes"  # a raw minimum, maximum, 0th or 100th percentile
ROUNDED = "rounded"  # count rounded to rounding_base
EDGES = "edges"  # outer histogram bin edge opened (no raw min or max)
DIFFERENCING = "differencing"  # fewer than min_count units differ between two released groups
STRUCTURAL_ZERO = "structural-zero"  # a zero released on a recorded justification
UNPROTECTED = "unprotected"  # a suppressed cell that secondary suppression could not protect


def below_threshold(counts: np.ndarray, config: DisclosureConfig) -> np.ndarray:
    """Cells with 0 < count < min_count (zeros are the zeros rule's business)."""
    return (counts > 0) & (counts < config.min_count)


def disclosive_zero(counts: np.ndarray, config: DisclosureConfig) -> np.ndarray:
    """Zero cells, when zeros are disclosive."""
    return (counts == 0) if config.zeros_disclosive else np.zeros(counts.shape, bool)


def unsafe_count(counts: np.ndarray, config: DisclosureConfig) -> np.ndarray:
    """Counts that may not be released: below the threshold, or zero while zeros are disclosive."""
    return below_threshold(counts, config) | disclosive_zero(counts, config)


def nk_dominated(top: np.ndarray, total: np.ndarray, config: DisclosureConfig) -> np.ndarray:
    """N-k rule: sum of the nk_n largest contributions >= nk_k x cell total (ACRO uses >=).

    `top` holds each cell's largest absolute contributions in descending order (rows = cells,
    zero-padded); `total` the sum of absolute contributions. All-zero cells are not dominated.
    """
    top_n = top[:, : config.nk_n].sum(axis=1)
    return (total > 0) & (top_n >= config.nk_k * total)


def p_ratio_fails(top: np.ndarray, total: np.ndarray, config: DisclosureConfig) -> np.ndarray:
    """p% rule: (total - top1 - top2) / top1 < p_ratio, i.e. the second largest contributor can
    estimate the largest to within p%. All-zero cells pass."""
    top1 = top[:, 0]
    top2 = top[:, 1] if top.shape[1] > 1 else np.zeros_like(top1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = (total - top1 - top2) / top1
    return (top1 > 0) & (ratio < config.p_ratio)


def round_to_base(counts: np.ndarray, base: int) -> np.ndarray:
    """Round non-negative counts to the nearest multiple of `base`, halves upward (12 -> 10, 13 -> 15)."""
    return (np.floor(counts / base + 0.5) * base).astype(np.int64)


def extreme_columns(columns: list[str], config: DisclosureConfig) -> list[str]:
    """Columns named like a raw extreme (min, max, p0, p100), unless exempt, when extremes are blocked."""
    if not config.block_extremes:
        return []
    return [
        c for c in columns
        if matches_any(c, config.extreme_patterns) and not matches_any(c, config.extreme_exempt)
    ]
