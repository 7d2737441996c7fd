"""The Python API on synthetic data: cohort -> match -> DiD -> tidy table -> plot, beside the planted truth.

    python examples/api_walkthrough.py --pupils 50000 --out walkthrough

1. Generate a synthetic NPD extract (the planted effects are in its ground_truth.json).
2. KS4: build the cohort with `impact.ks4_cohort` and the baseline covariates with
   `impact.covariates`; match Ever6 CWSW pupils to Ever6 FSM-only pupils within KS4 year
   (`impact.match`); estimate the DiD on Attainment 8 with the matching weights (`impact.did`).
3. Attendance: build the pupil x year panel (`impact.attendance_panel`) and fit an event study
   (`impact.event_study`) with pupil and year fixed effects, clustered by LA.
4. Write the balance and tidy tables (CSV), the event-study plot (PNG) and summary.json; print
   each estimate beside the truth the generator planted.

The estimators take any polars/pandas/Arrow frame: the cohort builders are the only NPD-specific step.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import polars as pl

import impact
from impact.data.synthetic import generate
from impact.estimate import EventStudyResult

#: Pre-policy characteristics matched on (those of specs/vsh_cwsw_ks4.yaml).
COVARIATES = [
    "ks2_read_score", "ks2_mat_score", "ks2_read_missing", "ks2_mat_missing", "sen_provision", "sex",
    "ethnicity_major", "eal", "idaci_decile", "fsm_history_years", "ever6_fsm_years", "prior_absence_rate",
    "prior_absence_missing", "la_band_number",
]
POLICY_YEAR = 2022  # 2021/22, the first full year of the VSH extension
COVID_YEARS = [2020, 2021]  # excluded, never pooled (docs/explanation/design.md)


def planted(truth: dict, outcome: str, years: list[int]) -> float | None:
    """The generator's realised ATT on `outcome` over `years`: the n-weighted mean of its per-year values."""
    by_year = truth["realised_att"]["vsh"].get(outcome, {}).get("by_year", {})
    cells = [by_year[str(y)] for y in years if str(y) in by_year and by_year[str(y)]["n"] > 0]
    if not cells:
        return None
    return sum(c["att"] * c["n"] for c in cells) / sum(c["n"] for c in cells)


def ks4_matched_did(npd: Path, seed: int) -> tuple[impact.MatchDesign, impact.EffectResult, list[int]]:
    """KS4 cohorts 2017-2019 (pre) and 2022-2024 (post), matched within year, then DiD on Attainment 8."""
    options = dict(years=range(2017, 2025), exclude_cla=True)
    cohort = impact.ks4_cohort(npd, **options)
    baseline = impact.covariates(npd, **options).drop("la", "school_id", "baseline_year")
    frame = (
        cohort.filter(pl.col("cohort").is_in(["treated", "comparison"]) & ~pl.col("ks4_year").is_in(COVID_YEARS))
        .join(baseline, on="pupil_id", how="left")
        .with_columns(post=(pl.col("ks4_year") >= POLICY_YEAR).cast(pl.Int8))
        .sort("pupil_id")  # a fixed row order makes the run reproducible
    )
    print(f"KS4 frame: {frame.height:,} pupils, {int(frame['treated'].sum()):,} treated")
    design = impact.match(
        frame, "treated", COVARIATES, caliper=0.2, exact=["ks4_year"], missing="indicator", seed=seed
    )
    effect = impact.did(
        frame, "att8", "treated", "post", fixed_effects=["ks4_year"], weights=design.weights, cluster="la"
    )
    post_years = sorted(frame.filter(pl.col("post") == 1)["ks4_year"].unique().to_list())
    return design, effect, post_years


def attendance_event_study(npd: Path) -> EventStudyResult:
    """Overall absence by academic year relative to 2021/22; 2018/19 (e = -3) is the reference."""
    panel = impact.attendance_panel(npd, years=range(2016, 2026), exclude_cla=True)
    panel = panel.filter(pl.col("cohort").is_in(["treated", "comparison"])).sort("pupil_id", "academic_year")
    print(f"attendance panel: {panel.height:,} pupil-years")
    return impact.event_study(
        panel, "overall_absence_rate", "treated", "academic_year", treat_start=POLICY_YEAR, reference=-3,
        exclude_periods=COVID_YEARS, fixed_effects=["pupil_id", "academic_year"], cluster="la",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pupils", type=int, default=50_000, help="pupils on roll per year (default 50000)")
    parser.add_argument("--seed", type=int, default=1, help="seed for the data and the matching (default 1)")
    parser.add_argument("--data", type=Path, help="an existing synthetic extract (from `impact synth`) instead of generating one")
    parser.add_argument("--out", type=Path, default=Path("walkthrough"), help="output folder (default walkthrough/)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    if args.data is None:
        npd = generate(args.out / "npd", pupils=args.pupils, seed=args.seed, overwrite=True).path
    else:
        npd = args.data
    truth = json.loads((npd / "ground_truth.json").read_text())

    design, effect, post_years = ks4_matched_did(npd, args.seed)
    balance = design.balance()
    balance.write_csv(args.out / "balance.csv")
    print("\nbalance (|SMD| before -> after, first rows):")
    print(balance.select("covariate", "sample", "smd").head(6))
    did_table = effect.tidy()
    did_table.write_csv(args.out / "did_att8.csv")
    print("\nDiD on Attainment 8 (tidy table):")
    print(did_table.select("term", "estimate", "std_error", "ci_low", "ci_high", "n_treated", "n_comparison"))

    es = attendance_event_study(npd)
    es_table = es.tidy().with_columns(
        truth=pl.col("period").map_elements(lambda y: planted(truth, "overall_absence_rate", [int(y)]) or 0.0,
                                            return_dtype=pl.Float64)
    )
    es_table.write_csv(args.out / "event_study.csv")
    es.plot(str(args.out / "event_study.png"))

    summary = {
        "did_att8": {
            "estimate": effect.estimate, "ci_low": effect.terms[0].ci_low, "ci_high": effect.terms[0].ci_high,
            "truth": planted(truth, "attainment8", post_years),
        },
        "event_study_overall_absence_rate": es_table.select(
            "event_time", "estimate", "ci_low", "ci_high", "truth").to_dicts(),
        "pretrend_p_value": es.pretrend["p_value"],
    }
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")

    d = summary["did_att8"]
    print(f"\nAttainment 8, matched DiD: {d['estimate']:.3f} (95% CI {d['ci_low']:.3f} to {d['ci_high']:.3f}); "
          f"planted {d['truth']:.3f}")
    print("overall absence rate by year (event study vs planted):")
    for row in summary["event_study_overall_absence_rate"]:
        print(f"  e = {row['event_time']:+d}: {row['estimate']:+.4f} [{row['ci_low']:+.4f}, {row['ci_high']:+.4f}]"
              f"  planted {row['truth']:+.4f}")
    print(f"pre-trend F test p = {es.pretrend['p_value']:.3f}")
    print(f"\nwrote {args.out}/: balance.csv, did_att8.csv, event_study.csv, event_study.png, summary.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
