"""Sub-commands of the `impact` CLI; each is options plus one call into the Python API."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from .cli import command
from .errors import ParameterError


def _progress(quiet: bool):
    """A stage-message printer for long steps: elapsed seconds and the stage, to stderr."""
    if quiet:
        return None
    start = time.monotonic()

    def report(message: str) -> None:
        print(f"[{time.monotonic() - start:7.1f}s] {message}", file=sys.stderr, flush=True)

    return report


def _years(text: str) -> tuple[int, int]:
    """Parse '2015-2025' (or a single year '2021') into (first, last) academic end years."""
    parts = text.split("-")
    try:
        if len(parts) == 1:
            y = int(parts[0])
            return y, y
        if len(parts) == 2:
            return int(parts[0]), int(parts[1])
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(f"expected FIRST-LAST academic end years such as 2015-2025, got {text!r}")


@command
def _synth(sub) -> None:
    p = sub.add_parser(
        "synth",
        help="write a synthetic NPD extract with planted effects",
        description="Write synthetic NPD-style parquet extracts (same tables, columns and codes as real "
        "extracts) with policy effects planted by design and recorded in ground_truth.json.",
    )
    p.add_argument("--out", required=True, type=Path, help="output directory (must not exist unless --overwrite)")
    p.add_argument("--pupils", type=int, default=200_000, help="pupils on roll in one year (default 200000; national ~8500000)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1); same seed and arguments give identical files")
    p.add_argument("--years", type=_years, default=(2015, 2025), help="academic end years to write, FIRST-LAST (default 2015-2025)")
    p.add_argument("--pretrend", type=float, default=0.0, help="differential pre-trend for the treated group (absence rate per year; default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_run_synth)


def _run_synth(args) -> int:
    from .data.synthetic import generate

    result = generate(
        args.out,
        pupils=args.pupils,
        seed=args.seed,
        years=args.years,
        pretrend=args.pretrend,
        overwrite=args.overwrite,
        progress=_progress(args.quiet),
    )
    print(f"wrote {len(result.files)} files to {result.path}")
    return 0


@command
def _data(sub) -> None:
    p = sub.add_parser("data", help="inspect and check NPD-style extracts")
    dsub = p.add_subparsers(dest="data_command", metavar="ACTION")
    dsub.required = True
    c = dsub.add_parser(
        "check",
        help="check an extract directory against the table contracts",
        description="Check every extract in DIR against its table contract. Problems are reported as counts, "
        "never as row values. Exit 0 if there are no errors (warnings allowed), 3 otherwise.",
    )
    c.add_argument("directory", type=Path, metavar="DIR", help="folder of NPD-style parquet extracts")
    c.add_argument("--mapping", type=Path, help="YAML/JSON file {table: {extract_column: contract_column}}")
    c.add_argument("--tables", help="comma-separated tables to check (default: all found)")
    c.add_argument("--json", action="store_true", help="print the report as JSON")
    c.set_defaults(func=_run_data_check)


def _run_data_check(args) -> int:
    from .data.validate import check_extracts, load_mapping

    mapping = load_mapping(args.mapping) if args.mapping else None
    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    if tables == []:
        raise ParameterError("The '--tables' option of impact data check must name at least one table. Got '' instead.")
    report = check_extracts(args.directory, mapping=mapping, tables=tables)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for line in report.lines():
            print(line)
    return 0 if report.ok else 3


@command
def _validate(sub) -> None:
    p = sub.add_parser(
        "validate",
        help="check a YAML analysis spec without running it",
        description="Check a spec (and, with --data, the extracts it would read) without running anything. "
        "Exit 0 if valid, 2 for an invalid spec, 3 for invalid data.",
    )
    p.add_argument("spec", type=Path, metavar="SPEC", help="YAML (or JSON) analysis spec")
    p.add_argument("--data", type=Path, help="extract directory to check as well")
    p.set_defaults(func=_run_validate)


def _run_validate(args) -> int:
    from .pipeline import check_spec_columns
    from .spec import load_spec

    spec = load_spec(args.spec)
    check_spec_columns(spec)
    print(f"{args.spec}: valid spec '{spec.name}' ({len(spec.estimators)} estimator(s); every column it names "
          f"is in the {spec.panel} panel)")
    if args.data is not None:
        from .data.validate import check_extracts

        mapping = spec.data.mapping
        report = check_extracts(args.data, mapping=mapping)
        for line in report.lines():
            print(line)
        return 0 if report.ok else 3
    return 0


@command
def _spec(sub) -> None:
    p = sub.add_parser("spec", help="spec tools")
    ssub = p.add_subparsers(dest="spec_command", metavar="ACTION")
    ssub.required = True
    s = ssub.add_parser("schema", help="print the JSON Schema of analysis specs (for editors)")
    s.set_defaults(func=_run_spec_schema)


def _run_spec_schema(args) -> int:
    from .spec import spec_json_schema

    print(json.dumps(spec_json_schema(), indent=2))
    return 0


@command
def _cohorts(sub) -> None:
    p = sub.add_parser(
        "cohorts",
        help="build the cohort, outcome and covariate tables from extracts",
        description="Build the Ever6-CWSW / Ever6-FSM cohorts, outcome panels, covariates and the attrition "
        "record from an extract directory, and write them as parquet to a new folder (written atomically). "
        "The output holds pupil-level rows: it is an analysis input, not a releasable output.",
    )
    p.add_argument("--data", required=True, type=Path, help="extract directory")
    p.add_argument("--out", required=True, type=Path, help="output folder (must not exist unless --overwrite)")
    p.add_argument("--years", required=True, type=_years, help="academic end years FIRST-LAST, e.g. 2016-2024")
    p.add_argument("--tables", help="comma-separated subset of: cohort, attendance_panel, ks4_cohort, post16_panel, covariates, attrition")
    p.add_argument("--lookback-years", type=int, default=6, help="look-back window of the Ever flags (default 6)")
    p.add_argument("--exclude-cla", action="store_true", help="drop looked-after pupils from the treated group")
    p.add_argument("--current-only", action="store_true", help="treated only if the social care is open at the census")
    p.add_argument("--highest-level", choices=["CIN", "CPP", "CLA"], help="keep treated pupils of one highest level")
    p.add_argument("--include-nfa", action="store_true", help="count referrals with no further action")
    p.add_argument("--include-not-in-need", action="store_true", help="count episodes closed as not in need (RC8)")
    p.add_argument("--definition", choices=["episode", "plan"], default="episode",
                   help="social-worker definition: any CIN episode (default) or a CIN plan")
    p.add_argument("--include-short-breaks", action="store_true", help="count CLA short breaks (V3/V4)")
    p.add_argument("--baseline-year", type=int, help="census year of the baseline covariates (default: first year)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output folder")
    p.set_defaults(func=_run_cohorts)


def _run_cohorts(args) -> int:
    from .cohorts import write_cohorts
    from .outputs import atomic_directory

    first, last = args.years
    tables = [t.strip() for t in args.tables.split(",") if t.strip()] if args.tables else None
    with atomic_directory(args.out, overwrite=args.overwrite, owner="impact cohorts") as tmp:
        written = write_cohorts(
            args.data,
            tmp,
            tables=tables,
            years=range(first, last + 1),
            lookback_years=args.lookback_years,
            exclude_cla=args.exclude_cla,
            current_only=args.current_only,
            highest_level=args.highest_level,
            include_nfa=args.include_nfa,
            include_not_in_need=args.include_not_in_need,
            definition=args.definition,
            exclude_short_breaks=not args.include_short_breaks,
            baseline_year=args.baseline_year,
        )
    print(f"wrote {len(written)} tables to {args.out}: {', '.join(sorted(written))}")
    return 0


@command
def _run(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run an analysis spec and write the results bundle",
        description="Run SPEC end to end and write a disclosure-checked results bundle (tables, figures, "
        "report.html, manifest.json, disclosure.json, logs/run.log). Exit codes: 0 success; 1 analysis failed; "
        "2 invalid spec or usage; 3 invalid data; 4 a required output failed disclosure checks.",
    )
    p.add_argument("spec", type=Path, metavar="SPEC", help="YAML (or JSON) analysis spec")
    p.add_argument("--data", type=Path, help="extract directory (overrides the spec's data)")
    p.add_argument("--out", type=Path, help="bundle folder (default: results/<spec name>)")
    p.add_argument("--seed", type=int, help="override the spec's seed")
    p.add_argument("--overwrite", action="store_true", help="replace an existing bundle folder")
    p.add_argument("--cache", type=Path, metavar="DIR",
                   help="reuse (or store) the built cohort panel in DIR, keyed by the spec's cohort, the data and "
                   "the code; holds pupil-level rows, so keep it inside the secure environment")
    p.add_argument("--quiet", action="store_true", help="no progress messages")
    p.set_defaults(func=_run_run)


def _run_run(args) -> int:
    import polars as pl

    from .errors import DisclosureError
    from .pipeline import run
    from .spec import load_spec

    spec = load_spec(args.spec)
    out = args.out or Path("results") / spec.name
    quiet = args.quiet or not sys.stderr.isatty()
    result = run(spec, data=args.data, out=out, overwrite=args.overwrite, seed=args.seed, progress=_progress(quiet),
                 cache=args.cache)
    est = result.estimates
    print(f"wrote {out} (disclosure: {result.status})")
    if est.height and "estimate" in est.columns:
        for row in est.filter(pl.col("estimate").is_not_null()).iter_rows(named=True):
            truth = f"  [planted {row['truth']:.4f}]" if row.get("truth") is not None else ""
            term = row["term"] if row.get("subgroup") is None else f"{row['term']} {row['subgroup']}={row['subgroup_level']}"
            print(f"  {row['estimator']:<12} {row['outcome']:<28} {term:<22} "
                  f"{row['estimate']:>9.4f}  95% CI [{row['ci_low']:.4f}, {row['ci_high']:.4f}]{truth}")
    if result.status == "fail":
        raise DisclosureError(f"one or more outputs failed disclosure checks; see {out / 'disclosure.json'}")
    return 0
