"""What the benchmarks report about the machine beside their figures: the load, and the Spark driver's memory."""
from __future__ import annotations

import os
from pathlib import Path


def load_line(before: tuple[float, float, float], after: tuple[float, float, float]) -> str:
    """The load averages before and after a run, and the cores: the machine is shared, so every time is read with them."""
    return (f"load average (1, 5, 15 min) before {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, "
            f"after {after[0]:.2f} {after[1]:.2f} {after[2]:.2f}; cores {os.cpu_count()}")


def jvm_peak_gb() -> float:
    """Peak resident memory of this process's Java children (the Spark driver), from /proc."""
    peak = 0
    for pid in os.listdir("/proc"):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if b"java" in cmdline and int(fields.get("PPid", "0").strip()) == os.getpid():
            peak = max(peak, int(fields["VmHWM"].split()[0]))
    return peak / 1024**2
