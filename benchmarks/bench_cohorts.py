"""Benchmark: build the attendance panel and KS4 cohort with all flags and covariates.

    python benchmarks/bench_cohorts.py --data DIR [--years 2016 2023]
    python benchmarks/bench_cohorts.py --pupils 200000 [--years 2016 2023]   # generates first

Runs `impact.cohorts.write_cohorts` (every model built once, tables streamed to parquet) and
prints wall time and peak RSS of the process (DuckDB works in-process, so RSS includes it).
Target on national-size extracts (8.5M pupils x 8 years): <= 2 minutes, <= 6 GB.
"""
from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from impact import cohorts
from impact.data.sources import register_extracts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="extract directory (else one is generated)")
    parser.add_argument("--pupils", type=int, default=200_000, help="pupils per year when generating")
    parser.add_argument("--years", type=int, nargs=2, default=(2016, 2023), metavar=("FIRST", "LAST"))
    parser.add_argument("--memory-limit", default="5GB", help="DuckDB memory_limit (spills to disk beyond it)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    first, last = args.years
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        gen_seconds = None
        if data is None:
            from impact.data.synthetic import generate

            t0 = time.perf_counter()
            data = generate(Path(tmp) / "npd", pupils=args.pupils, seed=1, years=(first, last)).path
            gen_seconds = time.perf_counter() - t0
        con = duckdb.connect(config={"memory_limit": args.memory_limit, "threads": args.threads,
                                     "temp_directory": str(Path(tmp) / "spill"), "preserve_insertion_order": False})
        register_extracts(con, data)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        paths = cohorts.write_cohorts(con, Path(tmp) / "out", years=range(first, last + 1),
                                      tables=["attendance_panel", "ks4_cohort", "covariates"])
        seconds = time.perf_counter() - t0
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        census = con.sql("SELECT COUNT(*) FROM stg_census").fetchall()[0][0]
        intervals = con.sql("SELECT COUNT(*) FROM stg_cin").fetchall()[0][0] + con.sql("SELECT COUNT(*) FROM stg_cla").fetchall()[0][0]
        rows = {name: duckdb.sql("SELECT COUNT(*) FROM read_parquet($p)", params={"p": str(p)}).fetchall()[0][0]
                for name, p in paths.items()}
    print(f"| pupil-years (main reg.) | social-care intervals | years | panel rows | KS4 rows | covariate rows "
          f"| generate s | build+write s | peak RSS GB (before build) |")
    print("|---|---|---|---|---|---|---|---|---|")
    gen = f"{gen_seconds:.1f}" if gen_seconds is not None else "-"
    print(f"| {census:,} | {intervals:,} | {first}-{last} | {rows['attendance_panel']:,} | {rows['ks4_cohort']:,} "
          f"| {rows['covariates']:,} | {gen} | {seconds:.1f} | {peak_gb:.2f} ({rss0 / 1024**2:.2f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
