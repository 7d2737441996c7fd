"""Turn (data, treatment, covariates) into numpy arrays once, with the checks every design shares.

Categorical covariates (strings, categoricals, enums, booleans stay numeric) are dummy-coded
with the first level (in sorted order) as the reference. Missing covariate values raise a
DataError naming the column and the count, unless `missing="indicator"`: then each affected
numeric column is filled with 0 and gains a `<col>_missing` 0/1 indicator, and a missing
categorical value becomes its own level.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from ..errors import DataError
from ..frame import as_polars, require_binary, require_columns, require_no_missing
from ..params import check_choice, check_columns_arg


@dataclass
class DesignData:
    """The frame a design was built on plus the numeric pieces the algorithms use."""

    frame: pl.DataFrame
    treatment: str
    covariates: list[str]
    treated: np.ndarray  # bool, one per row
    X: np.ndarray  # float64 (n, p): covariates after dummy coding, no intercept
    names: list[str]  # column names of X
    B: np.ndarray  # balance matrix: as X but categorical covariates keep every level
    bnames: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.frame.height


def _is_categorical(dtype: pl.DataType) -> bool:
    return not (dtype.is_numeric() or dtype == pl.Boolean)


def prepare(data, treatment: str, covariates, *, owner: str, missing: str = "error") -> DesignData:
    """Check the inputs and build the covariate matrix (dummy-coded, missing handled)."""
    df = as_polars(data, owner=owner)
    if not isinstance(treatment, str):
        raise DataError(f"{owner}: 'treatment' must be a column name; got {treatment!r}")
    covs = check_columns_arg(owner, "covariates", covariates)
    if not covs:
        raise DataError(f"{owner}: 'covariates' is empty; name at least one covariate column")
    check_choice(owner, "missing", missing, ("error", "indicator"))
    require_columns(df, [treatment], owner=owner, role="treatment column")
    require_columns(df, covs, owner=owner, role="covariate")
    if treatment in covs:
        raise DataError(f"{owner}: the treatment column '{treatment}' is also listed in 'covariates'; remove it")
    require_no_missing(df, [treatment], owner=owner)
    require_binary(df, treatment, owner=owner)
    if missing == "error":
        require_no_missing(df, covs, owner=owner)
    treated = df.get_column(treatment).cast(pl.Float64).to_numpy() == 1.0
    X, names, B, bnames, notes = covariate_matrix(df, covs)
    return DesignData(df, treatment, covs, treated, X, names, B, bnames, notes)


def covariate_matrix(df: pl.DataFrame, covs: list[str]):
    """(X, names, B, bnames, notes): dummy-coded model matrix and the all-levels balance matrix."""
    blocks, names, bblocks, bnames, notes = [], [], [], [], []
    has_categorical = False
    for c in covs:
        s = df.get_column(c)
        if _is_categorical(s.dtype):
            has_categorical = True
            codes = s.cast(pl.Utf8).fill_null("(missing)")
            levels = sorted(codes.unique().to_list())
            values = codes.to_numpy()
            full = np.column_stack([(values == lev).astype(np.float64) for lev in levels])
            blocks.append(full[:, 1:])
            names.extend(f"{c}[{lev}]" for lev in levels[1:])
            bblocks.append(full)
            bnames.extend(f"{c}[{lev}]" for lev in levels)
            continue
        vals = s.cast(pl.Float64).fill_nan(None)
        nmiss = vals.null_count()
        block, cnames = vals.fill_null(0.0).to_numpy()[:, None], [c]
        if nmiss:
            block = np.column_stack([block, vals.is_null().cast(pl.Float64).to_numpy()])
            cnames = [c, f"{c}_missing"]
            notes.append(f"{nmiss} missing value(s) of '{c}' set to 0 with indicator '{c}_missing'")
        blocks.append(block)
        names.extend(cnames)
        bblocks.append(block)
        bnames.extend(cnames)
    X = np.ascontiguousarray(np.column_stack(blocks), dtype=np.float64)
    B = np.ascontiguousarray(np.column_stack(bblocks), dtype=np.float64) if has_categorical else X
    return X, names, B, bnames, notes


def strata_codes(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """Integer stratum id per row from the joint values of `columns` (ids follow the sorted values)."""
    if not columns:
        return np.zeros(frame.height, dtype=np.int64)
    ranks = frame.select(pl.struct(columns).rank("dense")).to_series()
    return ranks.cast(pl.Int64).to_numpy() - 1
