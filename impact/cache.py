"""Cache of built analysis panels, so that re-running estimators on the same cohort skips the SQL.

An entry is keyed by everything that determines the panel: the code (every module of the package
and every SQL model), the spec's `panel`, `cohort` and column mapping, and the data — the
fingerprints (names, sizes, SHA-256) of the extract files, or for synthetic data the generator's
arguments. Any change to one of these gives a new key, so a stale entry is never read. Entries
hold pupil-level rows: keep the cache inside the secure environment, never with the outputs.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from .outputs import atomic_directory
from .spec import Spec
from .sql import query_dirs

FORMAT = 1
_PACKAGE = Path(__file__).resolve().parent


@dataclass
class CachedPanel:
    """What the cohort stage produced: the analysis frame, attrition, planted truth and input fingerprints."""

    frame: pl.DataFrame
    attrition: pl.DataFrame
    truth: dict | None
    inputs: list[dict[str, Any]]


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """SHA-256 over the package's Python modules and SQL models (paths and contents)."""
    h = hashlib.sha256()
    files = sorted(_PACKAGE.rglob("*.py")) + sorted(p for d in query_dirs() for p in d.glob("*.sql"))
    for path in files:
        h.update(path.name.encode())
        h.update(hashlib.sha256(path.read_bytes()).digest())
    return h.hexdigest()


def panel_key(spec: Spec, inputs: list[dict[str, Any]] | None) -> str:
    """The cache key of a spec's panel: `inputs` are the extract fingerprints, None for synthetic data."""
    parts = {
        "format": FORMAT,
        "code": code_fingerprint(),
        "panel": spec.panel,
        "cohort": spec.cohort.model_dump(mode="json"),
        "mapping": spec.data.mapping,
        "data": inputs if inputs is not None else {"synthetic": spec.data.synthetic.model_dump(mode="json")},
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]


def load(cache_dir: str | Path, key: str) -> CachedPanel | None:
    """The entry for `key`, or None when there is none (entries are complete or absent, never partial)."""
    entry = Path(cache_dir) / key
    if not (entry / "meta.json").is_file():
        return None
    meta = json.loads((entry / "meta.json").read_text())
    return CachedPanel(
        frame=pl.read_parquet(entry / "frame.parquet"),
        attrition=pl.read_parquet(entry / "attrition.parquet"),
        truth=meta["truth"],
        inputs=meta["inputs"],
    )


def store(cache_dir: str | Path, key: str, panel: CachedPanel) -> None:
    """Write an entry atomically (a killed run leaves no entry); an existing entry is replaced."""
    with atomic_directory(Path(cache_dir) / key, overwrite=True, owner="impact cache") as tmp:
        panel.frame.write_parquet(tmp / "frame.parquet")
        panel.attrition.write_parquet(tmp / "attrition.parquet")
        (tmp / "meta.json").write_text(json.dumps({"format": FORMAT, "truth": panel.truth, "inputs": panel.inputs}))
