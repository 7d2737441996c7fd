"""Figures drawn only from released (disclosure-checked) tables, as PNG, with their data as CSV.

Plotting from the released table rather than from a fitted model guarantees that a figure
shows nothing the output checker has not seen in its CSV.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: secure environments have no display
    import matplotlib.pyplot as plt

    return plt


def event_study_figure(
    table: pl.DataFrame, path: Path, *, title: str, reference: int, excluded: list[int]
) -> Path:
    """Coefficients by event time with 95% intervals; the reference period and excluded periods marked."""
    plt = _pyplot()
    t = table.filter(pl.col("estimate").is_not_null()).sort("event_time")
    e = t["event_time"].to_numpy().astype(float)
    b = t["estimate"].to_numpy()
    lo, hi = t["ci_low"].to_numpy(), t["ci_high"].to_numpy()
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.axvline(-0.5, color="grey", lw=0.8, ls=":")
    ax.errorbar(e, b, yerr=[b - lo, hi - b], fmt="o", color="C0", capsize=3, label="estimate, 95% CI")
    ax.plot([reference], [0.0], marker="s", color="black", ls="none", label=f"reference (e = {reference})")
    for k, x in enumerate(excluded):
        ax.axvspan(x - 0.4, x + 0.4, color="C1", alpha=0.2, label="excluded (COVID) period" if k == 0 else None)
    ax.set(xlabel="academic years relative to the policy start", ylabel="effect", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
    return path


def love_plot(balance: pl.DataFrame, path: Path, *, title: str = "Covariate balance") -> Path:
    """Absolute standardised mean differences before and after the design, one row per covariate."""
    plt = _pyplot()
    covs = balance["covariate"].unique(maintain_order=True).to_list()
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(covs) + 1.5))
    for sample, marker, colour in (("before", "o", "C3"), ("after", "D", "C0")):
        part = balance.filter(pl.col("sample") == sample)
        smd = dict(zip(part["covariate"].to_list(), part["smd"].to_list()))
        x = np.array([abs(smd[c]) if smd.get(c) is not None else np.nan for c in covs])
        ax.plot(x, np.arange(len(covs)), marker, color=colour, label=sample, ls="none")
    ax.axvline(0.1, color="grey", ls="--", lw=0.8)
    ax.set_yticks(np.arange(len(covs)), covs, fontsize=7)
    ax.set(xlabel="|standardised mean difference|", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
    return path


def overlap_figure(table: pl.DataFrame, path: Path, *, title: str = "Propensity score overlap") -> Path:
    """Density of each group over the released propensity-score bins (share / bin width, since
    merged bins differ in width), treated above the axis and comparison below, so regions
    without common support stand out."""
    plt = _pyplot()
    t = table.sort("bin_low")
    lo, hi = t["bin_low"].to_numpy().astype(float), t["bin_high"].to_numpy().astype(float)
    inner = np.concatenate([lo[np.isfinite(lo)], hi[np.isfinite(hi)]])
    pad = (inner.max() - inner.min()) * 0.05 if inner.size > 1 else 1.0
    lo = np.where(np.isfinite(lo), lo, inner.min() - pad)  # an opened outer edge is drawn a little wider
    hi = np.where(np.isfinite(hi), hi, inner.max() + pad)
    fig, ax = plt.subplots(figsize=(7, 4))
    for group, sign, colour in (("treated", 1.0, "C0"), ("comparison", -1.0, "C1")):
        n = t[group].to_numpy().astype(float)
        density = (n / n.sum() if n.sum() > 0 else n) / (hi - lo)
        ax.bar(lo, sign * density, width=hi - lo, align="edge", color=colour, alpha=0.7, edgecolor="white", label=group)
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set(xlabel="propensity score", ylabel="density (comparison below the axis)", title=title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
    return path
