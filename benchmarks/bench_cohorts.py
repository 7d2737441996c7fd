"""Benchmark: build the attendance panel and KS4 cohort with all flags and covariates.

    python benchmarks/bench_cohorts.py --data DIR [--years 2016 2023]
    python benchmarks/bench_cohorts.py --pupils 200000 [--years 2016 2023]   # generates first

Runs `impact.cohorts.write_cohorts` (every model built once, tables written to parquet) on a
connection made by `impact.cohorts.connect` (the entry points' settings: 3 threads, 4.5 GB
memory_limit, spilling to a temporary directory, the pupil x census grid stored compressed in
the connection's database file; `--temp-tables` uses an in-memory connection instead, where the
grid is an uncompressed TEMP table) and prints wall time, peak RSS of the process
(DuckDB works in-process, so RSS includes it), the process's CPU time (user + system, which
other jobs on a shared machine inflate less than wall time), the spill folder's peak size and the
bytes the process wrote to storage during the build (spill, database file and outputs), the
busiest-thread CPU (interval by interval, the CPU of the busiest thread: about the wall time on an
idle machine, which the shared machine's load does not inflate), the machine's load average, and
the issue's yardstick timed in the same run (a scan of every spring census row: "about 3 s here"
for 70M rows), by which runs at the machine's fast and slow hours can be read together.
Target on national-size extracts (8.5M pupils x 8 years): <= 2 minutes, <= 6 GB.
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

from machine import load_line  # benchmarks/ is this script's folder

import duckdb

from impact import cohorts, sql
from impact.data.sources import register_extracts


class Poller:
    """Calls `poll()` every `every` seconds in a background thread inside a `with` block, and once more at its end."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def poll(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.poll()

    def __enter__(self) -> "Poller":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.poll()


class FolderPeak(Poller):
    """Polls a folder's total size; `peak` is the largest seen (bytes)."""

    def __init__(self, folder: Path, every: float = 0.5) -> None:
        super().__init__(every)
        self.folder, self.peak = folder, 0

    def _size(self) -> int:
        total = 0
        for root, _, files in os.walk(self.folder):
            for f in files:
                try:
                    total += os.stat(os.path.join(root, f)).st_size
                except OSError:
                    pass
        return total

    def poll(self) -> None:
        self.peak = max(self.peak, self._size())


class BusiestThread(Poller):
    """Samples the process's threads' CPU time (Linux /proc/self/task) and sums, interval by
    interval, the CPU of the busiest thread: about the wall time the work needs on an otherwise
    idle machine, whatever the load (a phase that one thread runs alone counts in full, one spread
    over both cores counts half). `seconds` is that sum; 0 where /proc is absent."""

    def __init__(self, every: float = 0.2) -> None:
        super().__init__(every)
        self.seconds = 0.0
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._last: dict[str, float] = {}

    def _sample(self) -> dict[str, float]:
        out = {}
        try:
            tasks = os.listdir("/proc/self/task")
        except OSError:
            return out
        for task in tasks:
            try:
                fields = Path(f"/proc/self/task/{task}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            out[task] = (int(fields[11]) + int(fields[12])) / self._tick
        return out

    def poll(self) -> None:
        now = self._sample()
        self.seconds += max((now[t] - self._last.get(t, 0.0) for t in now), default=0.0)
        self._last = now

    def __enter__(self) -> "BusiestThread":
        self._last = self._sample()
        super().__enter__()
        return self


def bytes_written() -> int:
    """Bytes this process has caused to be written to storage (Linux /proc/self/io; 0 elsewhere)."""
    try:
        for line in Path("/proc/self/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def reference_scan(con: duckdb.DuckDBPyConnection) -> tuple[float, float, int]:
    """The issue's yardstick for this machine's speed, timed in the same run: one scan of every
    spring census row (hashing the PMR, summing FSMeligible), "about 3 s here" for 70M rows.
    Returns wall seconds, CPU seconds and rows."""
    cpu0, t0 = os.times(), time.perf_counter()
    rows = con.sql("SELECT COUNT(*), SUM(HASH(PupilMatchingRefAnonymous)), SUM(FSMeligible) FROM spring_census").fetchall()[0][0]
    cpu1 = os.times()
    return time.perf_counter() - t0, cpu1.user - cpu0.user + cpu1.system - cpu0.system, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="extract directory (else one is generated)")
    parser.add_argument("--pupils", type=int, default=200_000, help="pupils per year when generating")
    parser.add_argument("--years", type=int, nargs=2, default=(2016, 2023), metavar=("FIRST", "LAST"))
    parser.add_argument("--memory-limit", default=cohorts.DUCKDB_SETTINGS["memory_limit"],
                        help="DuckDB memory_limit (spills to disk beyond it)")
    parser.add_argument("--threads", type=int, default=cohorts.DUCKDB_SETTINGS["threads"])
    parser.add_argument("--temp-tables", action="store_true",
                        help="in-memory connection: the grid as an uncompressed TEMP table (for comparison)")
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
        settings = {"memory_limit": args.memory_limit, "threads": args.threads}
        if args.temp_tables:
            con = duckdb.connect(config={**cohorts.DUCKDB_SETTINGS, **settings, "temp_directory": str(Path(tmp) / "spill")})
        else:
            con = cohorts.connect(Path(tmp) / "spill", **settings)
        load_before = os.getloadavg()
        register_extracts(con, data)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0, cpu0, written0 = time.perf_counter(), os.times(), bytes_written()
        with FolderPeak(Path(tmp) / "spill") as spill, BusiestThread() as busiest:
            paths = cohorts.write_cohorts(con, Path(tmp) / "out", years=range(first, last + 1),
                                          tables=["attendance_panel", "ks4_cohort", "covariates"])
        seconds, cpu1, written = time.perf_counter() - t0, os.times(), bytes_written() - written0
        cpu = cpu1.user - cpu0.user + cpu1.system - cpu0.system
        load_after = os.getloadavg()
        scan_seconds, scan_cpu, scan_rows = reference_scan(con)
        peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
        census = con.sql(f"SELECT COUNT(*) FROM ({sql.composed('stg_census')[0]})").fetchall()[0][0]  # not built
        intervals = sum(con.sql(f"SELECT COUNT(*) FROM ({sql.composed(m)[0]})").fetchall()[0][0]
                        for m in ("stg_cin", "stg_cla"))  # released by the build: counted again
        rows = {name: duckdb.sql("SELECT COUNT(*) FROM read_parquet($p)", params={"p": str(p)}).fetchall()[0][0]
                for name, p in paths.items()}
    print("| pupil-years (main reg.) | social-care intervals | years | panel rows | KS4 rows | covariate rows "
          "| generate s | build+write s | CPU s | busiest-thread CPU s | peak RSS GB (before build) | spill folder peak GB "
          "| written GB |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    gen = f"{gen_seconds:.1f}" if gen_seconds is not None else "-"
    print(f"| {census:,} | {intervals:,} | {first}-{last} | {rows['attendance_panel']:,} | {rows['ks4_cohort']:,} "
          f"| {rows['covariates']:,} | {gen} | {seconds:.1f} | {cpu:.0f} | {busiest.seconds:.0f} | {peak_gb:.2f} ({rss0 / 1024**2:.2f}) "
          f"| {spill.peak / 1e9:.2f} | {written / 1e9:.2f} |")
    print(load_line(load_before, load_after))
    print(f"reference scan of the spring census ({scan_rows:,} rows; the issue: 70M rows in about 3 s): "
          f"{scan_seconds:.2f} s, {scan_cpu:.1f} CPU s; build+write / scan = {seconds / scan_seconds:.0f} (target 120 s / 3 s = 40)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
