"""Benchmark: the cohort build on Spark local mode against DuckDB, on the same extract and machine.

    python benchmarks/bench_spark.py --data /work/data/m1 [--years 2016 2023]
    python benchmarks/bench_spark.py --pupils 1000000            # generates an extract first
    python benchmarks/bench_spark.py --data /work/data/nat --driver-memory 14g   # national size

Both engines build every model once and collect the attendance panel, the KS4 cohort and the
baseline covariates to polars (what an analysis needs on the driver); the build and the collection
are timed apart, and each model's build time is printed to stderr as it finishes, so that a long
run shows where it is. Each engine runs in its own process so that peak memory is its own:
DuckDB's is the process's peak RSS (it works in-process); Spark's is the driver JVM's peak RSS
(VmHWM) plus the Python process's. Spark runs `local[2]` with impact.spark.LOCAL_CONF (a 6 GB
driver unless --driver-memory says otherwise); DuckDB with impact.cohorts.DUCKDB_SETTINGS.
Prints one markdown table with the ratio, and the machine's load average (other work on the
machine slows both engines).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import jvm_peak_gb, load_line  # benchmarks/ is this script's folder

TABLES = ["attendance_panel", "ks4_cohort", "covariates"]


def _say(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def _run_duckdb(data: Path, years: range) -> dict:
    from impact import cohorts
    from impact.data.sources import register_extracts
    from impact.sql import build, prerequisites, run_query

    opts = cohorts.CohortOptions.checked("bench", years=years)
    models = [cohorts.TABLES[t] for t in TABLES]
    with tempfile.TemporaryDirectory() as tmp:
        con = cohorts.connect(Path(tmp) / "spill")
        t0 = time.perf_counter()
        register_extracts(con, data)
        cohorts.register_missing_tables(con)
        deps = prerequisites(models)
        build(con, deps, opts.sql_params(deps), compress=True, passes=opts.yearly_passes)  # as impact.cohorts builds
        built = time.perf_counter()
        _say(f"duckdb built in {built - t0:.1f} s")
        rows = {m: run_query(con, m, opts.sql_params([m], own=True)).height for m in models}
        done = time.perf_counter()
        con.close()
    return {"build_s": built - t0, "collect_s": done - built, "rows": rows,
            "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}


def _run_spark(data: Path, years: range, driver_memory: str) -> dict:
    import impact.spark as sp
    import impact.spark.models as spark_models
    from impact.cohorts import TABLES as MODELS

    materialise = spark_models.materialise

    def timed(spark, query, params):  # the same build, each model's time reported as it finishes
        started = time.perf_counter()
        materialise(spark, query, params)
        _say(f"spark {query.name}: {time.perf_counter() - started:.1f} s")

    spark_models.materialise = timed
    with tempfile.TemporaryDirectory() as tmp:
        spark = sp.local_session({"spark.local.dir": tmp, "spark.driver.memory": driver_memory})
        try:
            t0 = time.perf_counter()
            with sp.cohort_views(data, tables=TABLES, spark=spark, years=years) as views:
                built = time.perf_counter()
                frames = {t: sp.collect(views[t]) for t in TABLES}
                done = time.perf_counter()
            jvm = jvm_peak_gb()
        finally:
            spark.stop()
    python = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {"build_s": built - t0, "collect_s": done - built, "rows": {MODELS[t]: f.height for t, f in frames.items()},
            "peak_gb": jvm + python, "jvm_gb": jvm}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="extract directory (else one is generated)")
    parser.add_argument("--pupils", type=int, default=1_000_000, help="pupils per year when generating")
    parser.add_argument("--years", type=int, nargs=2, default=(2016, 2023), metavar=("FIRST", "LAST"))
    parser.add_argument("--driver-memory", default=None, help="Spark driver memory (default LOCAL_CONF's, 6g)")
    parser.add_argument("--engine", choices=("duckdb", "spark"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    first, last = args.years
    years = range(first, last + 1)
    if args.engine:  # one engine, in a child process: print its figures as JSON
        if args.engine == "duckdb":
            figures = _run_duckdb(args.data, years)
        else:
            from impact.spark import LOCAL_CONF

            figures = _run_spark(args.data, years, args.driver_memory or LOCAL_CONF["spark.driver.memory"])
        print(json.dumps(figures))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data
        if data is None:
            from impact.data.synthetic import generate

            data = generate(Path(tmp) / "npd", pupils=args.pupils, seed=1, years=(first, last)).path
        load_before = os.getloadavg()
        figures = {}
        for engine in ("duckdb", "spark"):
            command = [sys.executable, __file__, "--engine", engine, "--data", str(data), "--years", str(first), str(last)]
            if args.driver_memory:
                command += ["--driver-memory", args.driver_memory]
            out = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
            figures[engine] = json.loads(out.strip().splitlines()[-1])
        load_after = os.getloadavg()
    from impact.cohorts import DUCKDB_SETTINGS

    duck, spark = figures["duckdb"], figures["spark"]
    assert duck["rows"] == spark["rows"], f"row counts differ: {duck['rows']} vs {spark['rows']}"
    rows = duck["rows"]
    print(f"extract: {data}, years {first}-{last}; rows: " + ", ".join(f"{m} {n:,}" for m, n in rows.items()))
    driver = args.driver_memory or "6g"
    total = {e: f["build_s"] + f["collect_s"] for e, f in figures.items()}
    print("| engine | build s | collect s | total s | peak memory GB | time vs DuckDB |")
    print("|---|---|---|---|---|---|")
    print(f"| DuckDB ({DUCKDB_SETTINGS['threads']} threads, 4.5 GB limit) | {duck['build_s']:.1f} | {duck['collect_s']:.1f} | {total['duckdb']:.1f} "
          f"| {duck['peak_gb']:.2f} | 1.0 |")
    print(f"| Spark local[2], {driver} driver | {spark['build_s']:.1f} | {spark['collect_s']:.1f} | {total['spark']:.1f} "
          f"| {spark['peak_gb']:.2f} (JVM {spark['jvm_gb']:.2f}) | {total['spark'] / total['duckdb']:.1f} |")
    print(load_line(load_before, load_after))
    return 0


if __name__ == "__main__":
    sys.exit(main())
