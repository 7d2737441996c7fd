"""Frequency tables: threshold and zeros rules, secondary suppression, optional rounding and margins."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import polars as pl

from ..errors import ParameterError
from . import rules as R
from ._columns import block_extremes, count_matrix, label_columns, positions
from .checked import Findings
from .config import DisclosureConfig
from .suppression import protect

_OWNER = "check_table(kind='frequency')"


def check_frequency(
    df: pl.DataFrame,
    config: DisclosureConfig,
    f: Findings,
    *,
    index: str | Sequence[str] | None = None,
    margins: bool = False,
    margins_name: str = "Total",
    structural_zeros: Mapping[tuple[int, str], str] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Check an R x C table of counts (label columns + count columns, no margins in the input).

    Cells below min_count and disclosive zeros are suppressed, then complementary cells so
    that nothing suppressed can be recovered from the totals; with rounding_base the released
    counts are rounded and any shown margins are the sums of the released rounded cells.
    """
    labels = label_columns(df, index, owner=_OWNER)
    blocked = block_extremes(df, [c for c in df.columns if c not in labels], config, f)
    count_cols = [c for c in df.columns if c not in labels and c not in blocked]
    if not count_cols:
        raise ParameterError(f"{_OWNER}: no count columns besides the label columns {labels}; pass a table of counts")
    if margins and margins_name in df.columns:
        raise ParameterError(f"{_OWNER}: a column is already called {margins_name!r}; pass margins_name=")
    x = count_matrix(df, count_cols, owner=_OWNER)
    structural = _structural_mask(structural_zeros, x, count_cols, config, f)
    thr = R.below_threshold(x, config)
    zer = R.disclosive_zero(x, config) & ~structural
    prot = protect(x, thr | zer, lambda v: R.unsafe_count(v, config))
    cols = positions(df, count_cols)
    f.flag_mask(R.THRESHOLD, thr, cols)
    f.flag_mask(R.ZEROS, zer, cols)
    f.flag_mask(R.SECONDARY, prot.secondary, cols)
    f.flag_mask(R.UNPROTECTED, prot.unprotected, cols)
    f.flag_mask(R.STRUCTURAL_ZERO, structural, cols)
    released = x
    if config.rounding_base is not None:
        released = np.where(prot.suppressed, x, R.round_to_base(x, config.rounding_base))
        f.flag_mask(R.ROUNDED, ~prot.suppressed, cols)
        f.exceptions.append(f"Rounding to base {config.rounding_base} automatically applied")
    out = df.with_columns(pl.Series(c, released[:, j]) for j, c in enumerate(count_cols))
    _note_withheld(prot, margins, count_cols, f)
    if margins:
        out = _add_margins(out, labels, count_cols, x, released, prot, config, f, margins_name)
    props = {"rows": x.shape[0], "count_columns": count_cols, "margins": margins}
    return out, props


def _structural_mask(
    structural_zeros: Mapping[tuple[int, str], str] | None,
    x: np.ndarray,
    count_cols: list[str],
    config: DisclosureConfig,
    f: Findings,
) -> np.ndarray:
    """Zero cells declared structural, each with its justification recorded as an exception."""
    mask = np.zeros(x.shape, bool)
    if not structural_zeros or not config.zeros_disclosive:
        return mask
    for key, why in structural_zeros.items():
        ok = isinstance(key, tuple) and len(key) == 2 and key[1] in count_cols
        ok = ok and isinstance(key[0], int) and 0 <= key[0] < x.shape[0]
        if not ok or not isinstance(why, str) or not why.strip():
            raise ParameterError(
                "The 'structural_zeros' parameter of check_table must map (row position, count column) to "
                f"a non-empty justification. Got {key!r}: {why!r} instead."
            )
        r, c = key[0], count_cols.index(key[1])
        if x[r, c] != 0:
            raise ParameterError(
                f"The 'structural_zeros' parameter of check_table names row {r}, column {key[1]!r}, "
                "which is not zero; only zero cells can be structural."
            )
        mask[r, c] = True
        f.exceptions.append(f"Structural zero at row {r}, column {key[1]!r}: {why.strip()}")
    return mask


def _note_withheld(prot: Any, margins: bool, count_cols: list[str], f: Findings) -> None:
    """Tell the pipeline which true totals must stay unreleased in every other output."""
    rows = [int(i) for i in np.flatnonzero(prot.row_totals)]
    cols = [count_cols[j] for j in np.flatnonzero(prot.col_totals)]
    parts = ([f"rows {rows}"] if rows else []) + ([f"columns {cols}"] if cols else [])
    parts += ["the grand total"] if prot.total else []
    if parts:
        f.comments.append(
            "Totals withheld to protect suppressed cells (do not release them in any other output): "
            + ", ".join(parts)
        )


def _add_margins(
    out: pl.DataFrame,
    labels: list[str],
    count_cols: list[str],
    x: np.ndarray,
    released: np.ndarray,
    prot: Any,
    config: DisclosureConfig,
    f: Findings,
    name: str,
) -> pl.DataFrame:
    """Append a total column (if 2+ count columns) and a total row (if 2+ rows).

    Without rounding the margins are the true totals, withheld where secondary suppression
    says so; with rounding they are sums of the released rounded cells (null if none)."""
    r, c = x.shape
    rounding = config.rounding_base is not None
    if rounding:
        shown = np.where(prot.suppressed, 0, released)
        row_tot, col_tot, grand = shown.sum(axis=1), shown.sum(axis=0), int(shown.sum())
        row_hide, col_hide = prot.suppressed.all(axis=1), prot.suppressed.all(axis=0)
        grand_hide = bool(prot.suppressed.all())
    else:
        row_tot, col_tot, grand = x.sum(axis=1), x.sum(axis=0), int(x.sum())
        row_hide, col_hide = prot.row_totals, prot.col_totals
        grand_hide = prot.total or (r == 1 and bool(row_hide[0])) or (c == 1 and bool(col_hide[0]))
    hidden: list[tuple[int, int, int]] = []  # (row, col, true value) of margins not shown
    if c >= 2:
        out = out.with_columns(pl.Series(name, row_tot, dtype=pl.Int64))
        mcol = out.columns.index(name)
        hidden += [(i, mcol, int(x[i].sum())) for i in np.flatnonzero(row_hide)]
        if r >= 2 and grand_hide:
            hidden.append((r, mcol, int(x.sum())))
    if r >= 2:
        row: dict[str, Any] = {lab: (name if k == 0 else None) for k, lab in enumerate(labels)}
        row.update({cc: int(v) for cc, v in zip(count_cols, col_tot)})
        if c >= 2:
            row[name] = grand
        out = out.with_columns(pl.col(labels).cast(pl.Utf8)) if labels else out
        out = pl.concat([out, pl.DataFrame([row], schema=out.schema)], how="vertical")
        cols = positions(out, count_cols)
        hidden += [(r, cols[j], int(x[:, j].sum())) for j in np.flatnonzero(col_hide)]
    if rounding:
        hidden_cells = {(i, j) for i, j, _ in hidden}
        for i, j in _margin_cells(out, r, c, name, count_cols):
            if (i, j) not in hidden_cells:
                f.flag(R.ROUNDED, [i], [j])
    for i, j, v in hidden:
        unsafe = not rounding and R.unsafe_count(np.array([v]), config)[0]
        f.flag((R.ZEROS if v == 0 else R.THRESHOLD) if unsafe else R.SECONDARY, [i], [j])
    return out


def _margin_cells(out: pl.DataFrame, r: int, c: int, name: str, count_cols: list[str]) -> list[tuple[int, int]]:
    """Positions of the margin cells that were added."""
    cells: list[tuple[int, int]] = []
    if c >= 2:
        mcol = out.columns.index(name)
        cells += [(i, mcol) for i in range(r + (1 if r >= 2 else 0))]
    if r >= 2:
        cells += [(r, j) for j in positions(out, count_cols)]
    return cells
