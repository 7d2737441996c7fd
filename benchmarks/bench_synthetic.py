"""Benchmark the synthetic NPD generator: wall time, peak RSS, rows and bytes per table.

Usage: python benchmarks/bench_synthetic.py --pupils 1000000 [--first 2015 --last 2025 --seed 1 --keep DIR]
generate() runs in a fresh subprocess so that the peak RSS (resource.getrusage of the child)
is the generator's own.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, time
from impact.data.synthetic import generate
t0 = time.perf_counter()
g = generate(sys.argv[1], pupils=int(sys.argv[2]), seed=int(sys.argv[3]), years=(int(sys.argv[4]), int(sys.argv[5])),
             progress=lambda m: print(f"[{time.perf_counter() - t0:7.1f}s] {m}", file=sys.stderr, flush=True))
print(json.dumps({"seconds": time.perf_counter() - t0, "files": g.files}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pupils", type=int, default=1_000_000)
    ap.add_argument("--first", type=int, default=2015)
    ap.add_argument("--last", type=int, default=2025)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, default=None, help="write here and keep the data (default: a temp dir)")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench_synth_")) if args.keep is None else args.keep.parent
    out = base / "npd" if args.keep is None else args.keep
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(out), str(args.pupils), str(args.seed), str(args.first),
                           str(args.last)], stdout=subprocess.PIPE, text=True, check=True)
    wall = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    res = json.loads(proc.stdout)
    groups: dict[str, list[int]] = {}
    for name, rows in res["files"].items():
        key = name.split("_20")[0].removesuffix(".parquet")
        g = groups.setdefault(key, [0, 0, 0])
        g[0] += 1
        g[1] += rows
        g[2] += (out / name).stat().st_size
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average before {load_before[0]:.2f} / after {os.getloadavg()[0]:.2f}")
    print(f"pupils {args.pupils:,}, years {args.first}-{args.last}, seed {args.seed}")
    print(f"wall time {wall:.1f} s (generate() {res['seconds']:.1f} s), peak RSS {peak_mb:,.0f} MB")
    print(f"{'table':<16}{'files':>6}{'rows':>14}{'MB':>10}")
    for key, (n, rows, size) in sorted(groups.items()):
        print(f"{key:<16}{n:>6}{rows:>14,}{size / 2**20:>10.1f}")
    total = sum(g[2] for g in groups.values())
    print(f"{'total':<16}{sum(g[0] for g in groups.values()):>6}{sum(g[1] for g in groups.values()):>14,}{total / 2**20:>10.1f}")
    if args.keep is None:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
