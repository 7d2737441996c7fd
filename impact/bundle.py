"""Write a run's results bundle: released tables, figures with their data, report, manifest, checks.

Everything written here comes from disclosure-checked tables (`CheckedTable`). The folder is
the temporary bundle that `impact.run` renames into place when complete.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl
import yaml

from .disclosure import DisclosureConfig, check_table, write_disclosure_json
from .manifest import file_fingerprint
from .outputs import write_text_atomic
from .report import ReportContext, render_report
from .report.figures import event_study_figure, love_plot, overlap_figure
from .report.html import ReportSection

if TYPE_CHECKING:
    from .pipeline import RunResult

ESTIMATE_COLUMNS = [
    "estimator", "outcome", "subgroup", "subgroup_level", "aggregation", "term", "estimate", "std_error", "ci_low", "ci_high", "p_value",
    "n_treated", "n_comparison", "n_clusters", "truth",
]


def write_bundle(result: RunResult, folder: Path, *, config: DisclosureConfig, timestamp: str) -> None:
    """Write every output of `result` into `folder` (the bundle being assembled)."""
    spec = result.spec
    checked = dict(result.checked)
    files: dict[str, list[Path]] = {}
    for name, table in checked.items():
        files[name] = [_csv(table.table, folder / f"{name}.csv")]
    figures = folder / "figures"
    figures.mkdir()
    figure_sections = []
    if "event_study" in checked:
        es = checked["event_study"].table
        body = next(e.event_study for e in spec.estimators if e.kind == "event_study")
        excluded = [y - body.treat_start for y in body.exclude_periods]
        for outcome in es["outcome"].unique(maintain_order=True).to_list():
            part = es.filter(pl.col("outcome") == outcome)
            if "subgroup" in part.columns:  # figures show the whole sample; subgroup rows are in the CSV
                part = part.filter(pl.col("subgroup").is_null())
            name = f"figure_event_study_{outcome}"
            fig_check = check_table(part, "estimate", config=config, name=name)
            checked[name] = fig_check
            csv = _csv(fig_check.table, figures / f"event_study_{outcome}.csv")
            png = event_study_figure(
                fig_check.table, figures / f"event_study_{outcome}.png",
                title=f"{outcome}: effect by year", reference=body.reference, excluded=excluded,
            )
            files[name] = [csv, png]
            figure_sections.append(ReportSection(f"Event study: {outcome}", figure=png, figure_alt=f"event study {outcome}"))
    love_png = None
    if "balance" in checked:
        bal = checked["balance"].table
        name = "figure_love_plot"
        checked[name] = check_table(bal, "balance", config=config, name=name, index=["covariate", "sample"])
        csv = _csv(checked[name].table, figures / "love_plot.csv")
        love_png = love_plot(checked[name].table, figures / "love_plot.png")
        files[name] = [csv, love_png]
    overlap_png = None
    if "propensity_overlap" in checked and checked["propensity_overlap"].status != "fail":
        # drawn from the released table, whose CSV (propensity_overlap.csv) is exactly what it plots
        overlap_png = overlap_figure(checked["propensity_overlap"].table, figures / "propensity_overlap.png")
        files["propensity_overlap"].append(overlap_png)
    report = _report(result, checked, figure_sections, love_png, overlap_png)
    write_text_atomic(folder / "report.html", render_report(report))
    write_text_atomic(folder / "spec.yaml", yaml.safe_dump(spec.model_dump(mode="json"), sort_keys=False))
    manifest = dict(result.manifest)
    manifest["outputs"] = sorted(
        (file_fingerprint(p) | {"name": str(p.relative_to(folder))} for p in folder.rglob("*") if p.is_file() and "logs" not in p.parts),
        key=lambda d: d["name"],
    )
    write_text_atomic(folder / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")
    write_disclosure_json(checked.values(), folder / "disclosure.json", config=config, timestamp=timestamp, files=files)


def _csv(table: pl.DataFrame, path: Path) -> Path:
    tmp = path.with_name(f".{path.name}.tmp")
    table.write_csv(tmp)
    tmp.replace(path)
    return path


def _report(
    result: RunResult, checked: dict, figure_sections: list[ReportSection], love_png: Path | None,
    overlap_png: Path | None,
) -> ReportContext:
    spec = result.spec
    caveats = []
    for est in spec.estimators:
        body = getattr(est, est.kind)
        dropped = getattr(body, "exclude_years", None) or getattr(body, "exclude_periods", None)
        if dropped:
            caveats.append(
                f"{est.kind}: academic years {', '.join(map(str, dropped))} are excluded from estimation "
                "(COVID disruption: 2019/20 has autumn-term absence only; 2020/21 counted code X sessions as possible)."
            )
    if spec.panel == "ks4":
        caveats.append("KS4 grades were centre-assessed in 2020 and teacher-assessed in 2021, and 2022 was a transition "
                       "year; Progress 8 was not published for 2020, 2021 or 2025.")
    if any(o in ("persistent_absence", "severe_absence", "em94", "em95") for o in spec.outcomes):
        caveats.append("Threshold outcomes (persistent or severe absence, grade 4+/5+) rely on parallel trends in the "
                       "indicator itself, which holds only approximately when groups start at different levels.")
    if result.manifest.get("ground_truth"):
        caveats.append("These results use synthetic data: the 'truth' column is the effect planted by the generator.")
    est = checked["estimates"].table
    shown = est.select([c for c in ESTIMATE_COLUMNS if c in est.columns])
    sections = [
        ReportSection("Cohorts and their sizes", ("Pupils in each group by academic year (suppressed cells shown as a dash).",),
                      checked["cohort_sizes"].table),
    ]
    if "attrition" in checked:
        sections.append(ReportSection("From the census to the cohorts", ("Rows after each step.",), checked["attrition"].table))
    if "balance" in checked:
        sections.append(ReportSection(
            "Design and balance",
            ("Standardised mean differences before and after the design; |SMD| below 0.1 is usually taken as balanced.",),
            checked["balance"].table, love_png, "love plot",
        ))
    if overlap_png is not None:
        sections.append(ReportSection(
            "Propensity score overlap",
            ("Pupils of each group by propensity-score bin, before the design; bins are merged until every "
             "bar holds at least the minimum count. Scores where one group has no bar lack common support.",),
            checked["propensity_overlap"].table, overlap_png, "propensity overlap",
        ))
    sections.append(ReportSection("Estimates", ("Effects with 95% confidence intervals.",), shown))
    if "pretrend_tests" in checked:
        sections.append(ReportSection(
            "Pre-trend tests", ("Joint Wald tests that all pre-policy event-study coefficients are zero.",),
            checked["pretrend_tests"].table,
        ))
    sections.extend(figure_sections)
    footer = {
        "spec": spec.name, "seed": spec.seed, "impact": result.manifest["impact_version"],
        "timestamp": result.manifest["timestamp"], "estimated from": result.manifest["estimated_from"],
        "disclosure": ", ".join(f"{k}: {v.status}" for k, v in checked.items()),
    }
    return ReportContext(spec.title or spec.name, spec.question, tuple(sections), tuple(caveats), footer)

