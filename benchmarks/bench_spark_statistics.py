"""Benchmark: DiD / event study from statistics summed in Spark against collecting the frame and fitting on the driver.

    python benchmarks/bench_spark_statistics.py --frame analysis.parquet      # the pipeline's analysis frame
    python benchmarks/bench_spark_statistics.py --pupils 300000               # generate, build with DuckDB first
    python benchmarks/bench_spark_statistics.py --gram --rows 1000000 --k 80  # X'X: one wide agg vs mapInArrow

Each path runs in its own process on Spark `local[2]` with a 4 GB driver, reading the same parquet:
`statistics` calls impact.spark.did_statistics / event_study_statistics on the Spark DataFrame;
`collect` collects the frame through Arrow (as the pipeline does today) and calls impact.did /
impact.event_study. The model is the headline spec's (specs/vsh_cwsw_attendance.yaml): fixed
effects pupil_id, year^fsm_eligible^sen_provision, nc_year^treated, clustered by la, COVID years
excluded. Prints wall time per step, the driver JVM's peak RSS (VmHWM) and the Python process's,
and the bytes collected to the driver, as one markdown table, with the load average.
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

from machine import jvm_peak_gb  # benchmarks/ is this script's folder

FE = ["pupil_id", "year^fsm_eligible^sen_provision", "nc_year^treated"]
OUTCOME = "overall_absence_rate"
CONF = {"spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "16"}


def _did_frame(frame, F):
    return frame.filter(~F.col("year").isin([2020, 2021]) & F.col(OUTCOME).isNotNull()).withColumn(
        "post", (F.col("year") >= 2022).cast("tinyint"))


def _run(path: str, how: str) -> dict:
    import polars as pl
    from pyspark.sql import functions as F

    import impact.spark.statistics as st
    from impact import did, event_study
    from impact.spark import collect, local_session

    collected = [0]
    reduced = st._reduced

    def counting(partials, keys):
        table = reduced(partials, keys)
        collected[0] += table.nbytes
        return table

    st._reduced = counting
    spark = local_session(CONF)
    times = {}
    try:
        t0 = time.perf_counter()
        frame = spark.read.parquet(path)
        es_args = dict(treat_start=2022, reference=-3, exclude_periods=[2020, 2021], fixed_effects=FE, cluster="la")
        if how == "statistics":
            res = st.did_statistics(_did_frame(frame, F), OUTCOME, "treated", "post", fixed_effects=FE, cluster="la")
            times["did"] = time.perf_counter() - t0
            t1 = time.perf_counter()
            es = st.event_study_statistics(frame.filter(F.col(OUTCOME).isNotNull()), OUTCOME, "treated", "year", **es_args)
            times["event_study"] = time.perf_counter() - t1
        else:
            panel = collect(frame)
            times["collect"] = time.perf_counter() - t0
            collected[0] = panel.estimated_size()
            t1 = time.perf_counter()
            data = panel.filter(~pl.col("year").is_in([2020, 2021]) & pl.col(OUTCOME).is_not_null()).with_columns(
                post=(pl.col("year") >= 2022).cast(pl.Int8))
            res = did(data, OUTCOME, "treated", "post", fixed_effects=FE, cluster="la")
            times["did"] = time.perf_counter() - t1
            t1 = time.perf_counter()
            es = event_study(panel.filter(pl.col(OUTCOME).is_not_null()), OUTCOME, "treated", "year", **es_args)
            times["event_study"] = time.perf_counter() - t1
        times["total"] = time.perf_counter() - t0
        term = res.terms[0]
        return {"times": times, "estimate": term.estimate, "std_error": term.std_error, "n_obs": term.n_obs,
                "es_first": [es.terms[0].estimate, es.terms[0].std_error], "collected_mb": collected[0] / 1e6,
                "jvm_gb": jvm_peak_gb(), "python_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}
    finally:
        spark.stop()


def _gram(rows: int, k: int, how: str) -> dict:
    """X'X of k random columns: one agg with k(k+1)/2 sum expressions, or per-partition numpy via mapInArrow."""
    import numpy as np
    import pyarrow as pa
    from pyspark.sql import functions as F

    from impact.spark import local_session

    spark = local_session(CONF)
    try:
        cols = [F.rand(seed=j).alias(f"x{j}") for j in range(k)]
        frame = spark.range(rows, numPartitions=8).select(*cols).persist()
        frame.count()
        t0 = time.perf_counter()
        if how == "agg":
            exprs = [F.sum(F.col(f"x{i}") * F.col(f"x{j}")) for i in range(k) for j in range(i, k)]
            row = frame.agg(*exprs).first()
            out = np.asarray(row, dtype=float)
        else:
            def gram(batches):
                total = np.zeros((k, k))
                for b in batches:
                    x = np.column_stack([b.column(j).to_numpy() for j in range(k)])
                    total += x.T @ x
                yield pa.RecordBatch.from_arrays([pa.array([total.ravel().tolist()], pa.list_(pa.float64()))], ["v"])
            parts = frame.mapInArrow(gram, "v array<double>").toArrow()
            out = np.sum(np.asarray(parts.column("v").to_pylist()), axis=0)
        return {"seconds": time.perf_counter() - t0, "check": float(out[0])}
    finally:
        spark.stop()


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frame", help="parquet of the analysis frame")
    ap.add_argument("--pupils", type=int, help="generate an extract of this size and build the frame first")
    ap.add_argument("--gram", action="store_true")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--k", type=int, default=80)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        kind, how = args.child
        result = _gram(args.rows, args.k, how) if kind == "gram" else _run(kind, how)
        print(json.dumps(result))
        return
    print(f"load average before: {os.getloadavg()}")
    if args.gram:
        print(f"| X'X of {args.k} columns, {args.rows:,} rows | seconds |\n|---|---|")
        for how in ("agg", "arrow"):
            r = _child(["--child", "gram", how, "--rows", str(args.rows), "--k", str(args.k)])
            print(f"| {how} | {r['seconds']:.1f} |")
    else:
        path = args.frame or _build(args.pupils)
        print("| path | did | event study | total | collected | driver JVM peak | Python peak | estimate (SE) |")
        print("|---|---|---|---|---|---|---|---|")
        for how in ("statistics", "collect"):
            r = _child(["--child", path, how])
            t = r["times"]
            print(f"| {how} | {t['did']:.1f} s | {t['event_study']:.1f} s | {t['total']:.1f} s | "
                  f"{r['collected_mb']:.2f} MB | {r['jvm_gb']:.2f} GB | {r['python_gb']:.2f} GB | "
                  f"{r['estimate']:.10f} ({r['std_error']:.10f}), n {r['n_obs']:,} |")
    print(f"load average after: {os.getloadavg()}")


def _build(pupils: int) -> str:
    import polars as pl

    from impact.cohorts import build_analysis_tables
    from impact.data.synthetic import generate

    work = Path(tempfile.mkdtemp(prefix="bench-stats-"))
    extract = generate(work / "npd", pupils=pupils, seed=1, years=(2016, 2023)).path
    built = build_analysis_tables(extract, years=range(2016, 2024), exclude_cla=True)
    frame = built["panel"].rename({"academic_year": "year"}).filter(pl.col("cohort").is_in(["treated", "comparison"]))
    cov = built["covariates"].drop(["la", "school_id", "baseline_year"], strict=False)
    frame = frame.join(cov, on="pupil_id", how="left", suffix="_baseline").sort("pupil_id", "year")
    frame.write_parquet(work / "frame.parquet")
    print(f"analysis frame: {frame.height:,} rows x {frame.width} columns, "
          f"{frame.estimated_size() / frame.height:.0f} bytes per row in polars")
    return str(work / "frame.parquet")


if __name__ == "__main__":
    main()
