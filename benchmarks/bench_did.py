"""Benchmark: TWFE with pupil and year fixed effects, 2 covariates, CR1 by LA — impact vs pyfixest vs linearmodels.

Usage:  python benchmarks/bench_did.py [ROWS ...] [--tools impact,pyfixest,linearmodels] [--repeat 1]
e.g.    python benchmarks/bench_did.py 1000000          (quick)
        python benchmarks/bench_did.py 20000000         (the issue's national-scale target)

A synthetic pupil-year panel (unbalanced: each pupil is seen for a run of 3-9 consecutive years,
152 LAs, 30% of LAs treated from year 6) is written once to a parquet file; each tool then runs in
its own subprocess, which reads the file, fits the model (timed: conversion from the loaded
polars frame plus estimation) and reports its peak resident memory (ru_maxrss, whole process,
including the loaded data). Coefficients are compared with impact's.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

TOOLS = ("impact", "pyfixest", "linearmodels")


def make_panel(rows: int, seed: int = 0):
    """Pupil-year panel with about `rows` rows; pupil ids are shuffled integers, LA fixed per pupil."""
    import polars as pl

    rng = np.random.default_rng(seed)
    n_pupils = max(rows // 6, 10)
    length = rng.integers(3, 10, n_pupils)
    first = rng.integers(0, 13 - length + 1)
    total = int(length.sum())
    pupil = np.repeat(rng.permutation(n_pupils) * 3 + 1_000_000, length)
    offset = np.arange(total) - np.repeat(np.cumsum(length) - length, length)
    year = (np.repeat(first, length) + offset + 2010).astype(np.int64)
    la = np.repeat(rng.integers(0, 152, n_pupils), length)
    treated_la = rng.random(152) < 0.3
    d = treated_la[la].astype(np.float64)
    post = (year >= 2016).astype(np.float64)
    alpha = np.repeat(rng.normal(size=n_pupils), length)
    x1 = rng.normal(size=total) + 0.3 * alpha
    x2 = rng.normal(size=total)
    y = alpha + 0.1 * (year - 2010) + 0.2 * d * post + 0.5 * x1 - 0.3 * x2 + rng.normal(size=total)
    return pl.DataFrame({"pupil": pupil, "year": year, "la": la, "att": d * post, "x1": x1, "x2": x2, "y": y,
                         "treated": d.astype(np.int8), "post": post.astype(np.int8)})


def run_tool(tool: str, path: str) -> dict:
    """Inside a subprocess: load, fit (timed), report coefficients, seconds and peak RSS."""
    import resource

    import polars as pl

    df = pl.read_parquet(path)
    t0 = time.perf_counter()
    if tool == "impact":
        from impact.estimate import did

        res = did(df, "y", "treated", "post", unit="pupil", time="year", covariates=["x1", "x2"], cluster="la")
        coef, se = res.estimate, res.std_error
    elif tool == "pyfixest":
        import pyfixest as pf

        fit = pf.feols("y ~ att + x1 + x2 | pupil + year", data=df.to_pandas(), vcov={"CRV1": "la"},
                       fixef_rm="singleton")
        coef, se = float(fit.coef()["att"]), float(fit.se()["att"])
    else:
        from linearmodels.panel import PanelOLS

        pdf = df.to_pandas().set_index(["pupil", "year"])
        fit = PanelOLS(pdf["y"], pdf[["att", "x1", "x2"]], entity_effects=True, time_effects=True,
                       drop_absorbed=True).fit(cov_type="clustered", clusters=pdf[["la"]])
        coef, se = float(fit.params["att"]), float(fit.std_errors["att"])
    seconds = time.perf_counter() - t0
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {"tool": tool, "seconds": seconds, "peak_rss_gb": rss_gb, "coef": coef, "se": se}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("rows", nargs="*", type=int, default=[1_000_000])
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--child", nargs=2, metavar=("TOOL", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(run_tool(*args.child)))
        return
    tools = [t for t in args.tools.split(",") if t]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"load avg {os.getloadavg()[0]:.2f}, python {platform.python_version()}")
    print(f"{'rows':>12} {'tool':<14}{'seconds':>9}{'peak GB':>9}{'x impact':>10}{'att':>12}{'rel.diff':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            path = os.path.join(tmp, f"panel_{rows}.parquet")
            panel = make_panel(rows)
            panel.write_parquet(path)
            n = panel.height
            del panel
            results = []
            for tool in tools:
                out = subprocess.run([sys.executable, __file__, "--child", tool, path], capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"{n:>12} {tool:<14} failed: {out.stderr.strip().splitlines()[-1:]}")
                    continue
                results.append(json.loads(out.stdout.strip().splitlines()[-1]))
            base = next((r for r in results if r["tool"] == "impact"), None)
            for r in results:
                ratio = r["seconds"] / base["seconds"] if base else float("nan")
                diff = abs(r["coef"] - base["coef"]) / abs(base["coef"]) if base else float("nan")
                print(f"{n:>12} {r['tool']:<14}{r['seconds']:>9.2f}{r['peak_rss_gb']:>9.2f}{ratio:>10.2f}"
                      f"{r['coef']:>12.6f}{diff:>10.1e}")


if __name__ == "__main__":
    main()
