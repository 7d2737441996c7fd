"""Provenance: what was run, on what, with which software, how long it took, how much memory.

The manifest lets an output checker or a re-run confirm exactly which inputs and versions
produced a bundle. It holds file names, sizes and hashes, never data values.
"""
from __future__ import annotations

import hashlib
import platform
import resource
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

DEPENDENCIES = ("polars", "duckdb", "pyarrow", "numpy", "scipy", "statsmodels", "linearmodels", "scikit-learn", "pyyaml", "pydantic")


def file_fingerprint(path: Path, *, chunk: int = 1 << 20) -> dict[str, Any]:
    """Name, size in bytes and SHA-256 of one file (streamed, constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return {"name": path.name, "bytes": path.stat().st_size, "sha256": h.hexdigest()}


def fingerprint_inputs(files: Iterable[Path], *, root: Path | None = None) -> list[dict[str, Any]]:
    """Fingerprints of input files sorted by path; names are relative to `root` when given."""
    out = []
    for p in sorted(Path(f) for f in files):
        fp = file_fingerprint(p)
        if root is not None:
            fp["name"] = str(p.relative_to(root))
        out.append(fp)
    return out


def software_versions() -> dict[str, str | None]:
    """Python, platform, impact and dependency versions (None where a package is absent)."""
    versions: dict[str, str | None] = {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    for name in ("impact", *DEPENDENCIES):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


@dataclass
class StageTimer:
    """Wall time per named stage, in order; `stage()` is a context manager."""

    stages: list[dict[str, Any]] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.stages.append({"stage": name, "seconds": round(time.perf_counter() - start, 3)})

    def to_list(self) -> list[dict[str, Any]]:
        return list(self.stages)
