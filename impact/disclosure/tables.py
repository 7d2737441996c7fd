"""Build magnitude tables from unit-level data, with the contributions the dominance rules need."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from ..frame import as_polars, require_columns, require_numeric
from ..params import check_choice, check_columns_arg
from .config import DisclosureConfig

_OWNER = "magnitude_table"


def magnitude_table(
    data: Any,
    by: str | Sequence[str],
    value: str,
    *,
    statistic: str = "mean",
    config: DisclosureConfig | None = None,
) -> pl.DataFrame:
    """One row per group of `by`: the mean or sum of `value`, its unweighted n (non-null values)
    and the sdc_* contributions summary (sum and largest absolute values, negative count) that
    check_table(kind='magnitude') uses for N-k and p% and then drops."""
    check_choice(_OWNER, "statistic", statistic, ("mean", "sum"))
    config = config or DisclosureConfig()
    keys = check_columns_arg(_OWNER, "by", by)
    frame = as_polars(data, owner=_OWNER)
    require_columns(frame, keys + [value], owner=_OWNER)
    require_numeric(frame, [value], owner=_OWNER, role="value column")
    v = pl.col(value).cast(pl.Float64)
    stat = v.mean() if statistic == "mean" else v.sum()
    width = max(config.nk_n, 2)
    return (
        frame.filter(v.is_not_null() & v.is_not_nan())
        .group_by(keys)
        .agg(
            stat.alias(f"{value}_{statistic}"),
            pl.len().alias("n"),
            v.abs().sum().alias("sdc_total"),
            v.abs().top_k(width).sort(descending=True).alias("sdc_top"),
            (v < 0).sum().alias("sdc_negative"),
        )
        .sort(keys)
    )
