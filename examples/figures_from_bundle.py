"""Re-create a results bundle's figures from its released CSVs alone (what an output checker has seen).

    python examples/figures_from_bundle.py results/vsh_cwsw_attendance --out redrawn

Reads `event_study.csv`, `balance.csv` and `spec.yaml` (the spec as run) from the bundle, never
the data, and draws each figure with the same functions the bundle writer uses
(`impact.report.figures`): one event study per outcome (whole sample; subgroup rows stay in the
CSV) and the love plot when the spec had a design. Useful for restyling figures after release,
or for checking that a figure shows nothing its CSV does not.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl
import yaml

from impact.report.figures import event_study_figure, love_plot


def event_study_marks(spec: dict) -> tuple[int, list[int]]:
    """The reference event time and the excluded event times of the spec's (first) event study."""
    body = next(e["event_study"] for e in spec["estimators"] if e.get("event_study"))
    return body["reference"], [year - body["treat_start"] for year in body["exclude_periods"]]


def redraw(bundle: Path, out: Path) -> list[Path]:
    """Draw every figure the bundle's released tables support into `out`; return the PNG paths."""
    spec = yaml.safe_load((bundle / "spec.yaml").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    written = []
    if (bundle / "event_study.csv").exists():
        reference, excluded = event_study_marks(spec)
        table = pl.read_csv(bundle / "event_study.csv", infer_schema_length=None)
        if "subgroup" in table.columns:
            table = table.filter(pl.col("subgroup").is_null())
        for outcome in table["outcome"].unique(maintain_order=True):
            written.append(event_study_figure(
                table.filter(pl.col("outcome") == outcome), out / f"event_study_{outcome}.png",
                title=f"{outcome}: effect by year", reference=reference, excluded=excluded,
            ))
    if (bundle / "balance.csv").exists():
        written.append(love_plot(pl.read_csv(bundle / "balance.csv"), out / "love_plot.png"))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="a results folder written by `impact run`")
    parser.add_argument("--out", type=Path, default=Path("redrawn"), help="where to write the PNGs (default redrawn/)")
    args = parser.parse_args(argv)
    written = redraw(args.bundle, args.out)
    for path in written:
        print(f"wrote {path}")
    if not written:
        print(f"{args.bundle} has no event_study.csv or balance.csv: nothing to draw")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
