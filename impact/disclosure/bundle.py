"""disclosure.json: the output checker's record of a run, laid out like ACRO's results.json.

{"version": ACRO_LAYOUT, "tool": {"@type", "name": "impact", "url", "version"}, "config": {...risk
appetite...}, "results": {name: {uid, status, type, properties, files: [{name, sha256, sdc:
{summary: {check: n}, cells: {check: [[row, col]]}}}], outcome, command, summary, timestamp,
comments, exception, fair, reasons}}, "checksums": {file: sha256}}. File names are relative to
the folder of disclosure.json, as ACRO's are to its results.json. ACRO's loader
(acro.record.load_records) reads the file once it is named results.json; it accepts only the
layout version of the installed acro, so `version` names the ACRO layout followed and
`tool.version` the impact version that wrote it. Written atomically (temporary file, os.replace).
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from .checked import CheckedTable
from .config import DisclosureConfig

_OWNER = "write_disclosure_json"

#: The ACRO results.json layout this file follows (checked against acro 1.0.2's load_records).
ACRO_LAYOUT = "1.0.2"


def write_disclosure_json(
    checked_tables: Iterable[CheckedTable],
    path: str | os.PathLike[str],
    *,
    config: DisclosureConfig,
    timestamp: str | datetime | None = None,
    files: Mapping[str, str | os.PathLike[str] | Sequence[str | os.PathLike[str]]] | None = None,
) -> Path:
    """Write disclosure.json for the given outputs and return its path.

    files maps an output name to the released file(s) written for it (a table's CSV; a
    figure's CSV then its PNG), named relative to the folder of `path`, each with its SHA-256;
    outputs without one are listed as '<name>.csv' with sha256 null. timestamp fixes the time
    stamped on every output (pass one to compare runs byte for byte); default: now, UTC.
    """
    tables = list(checked_tables)
    for t in tables:
        if not isinstance(t, CheckedTable):
            raise ParameterError(f"{_OWNER}: expects CheckedTable objects from check_table; got {type(t).__name__}")
        if t.config != config:
            raise ParameterError(f"{_OWNER}: output '{t.name}' was checked under a different DisclosureConfig")
    names = [t.name for t in tables]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ParameterError(f"{_OWNER}: output names must be unique; repeated: {dupes}")
    files = dict(files or {})
    unknown = sorted(set(files) - set(names))
    if unknown:
        raise ParameterError(f"{_OWNER}: 'files' names outputs that were not passed: {unknown}")
    stamp = _stamp(timestamp)
    checksums: dict[str, str] = {}
    results: dict[str, Any] = {}
    root = Path(path).parent
    for t in tables:
        given = files.get(t.name)
        paths = [given] if isinstance(given, (str, os.PathLike)) else list(given or [None])
        entries = [_file_entry(t, p, root) for p in paths]
        checksums.update({e["name"]: e["sha256"] for e in entries if e["sha256"] is not None})
        results[t.name] = {
            "uid": t.name,
            "status": t.status,
            "type": "table",
            "properties": {"method": t.kind, **t.properties},
            "files": entries,
            "outcome": {c: list(v) for c, v in t.outcome().to_dict(as_series=False).items()},
            "command": f"check_table(kind={t.kind!r}, name={t.name!r})",
            "summary": _summary_text(t),
            "timestamp": stamp,
            "comments": list(t.comments),
            "exception": t.exception,
            "fair": {},
            "reasons": list(t.reasons),
        }
    from .. import __version__  # late: the package __init__ may import this module

    doc = {
        "version": ACRO_LAYOUT,
        "tool": {"@type": "SoftwareApplication", "name": "impact", "version": __version__},
        "config": config.to_dict(),
        "results": results,
        "checksums": checksums,
    }
    text = json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return atomic_write_text(Path(path), text)


def _stamp(timestamp: str | datetime | None) -> str:
    if timestamp is None:
        return datetime.now(timezone.utc).isoformat(timespec="seconds")
    if isinstance(timestamp, datetime):
        return timestamp.isoformat()
    if isinstance(timestamp, str):
        return timestamp
    raise ParameterError(
        f"The 'timestamp' parameter of {_OWNER} must be a str, a datetime or None. Got {timestamp!r} instead."
    )


def _file_entry(t: CheckedTable, file: str | os.PathLike[str] | None, root: Path) -> dict[str, Any]:
    cells = {k: [list(rc) for rc in v] for k, v in t.cells.items()}
    return {
        "name": _relative(Path(file), root) if file is not None else f"{t.name}.csv",
        "sha256": sha256_file(Path(file)) if file is not None else None,
        "sdc": {"summary": t.summary, "cells": cells},
    }


def _relative(file: Path, root: Path) -> str:
    """The file's path relative to the folder of disclosure.json (its bare name if outside it)."""
    try:
        return file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return file.name


def _summary_text(t: CheckedTable) -> str:
    """ACRO-style one-line summary: 'review; threshold: 2 cells; secondary: 2 cells'."""
    parts = [t.status] + [f"{k}: {n} cells" for k, n in t.summary.items()]
    return "; ".join(parts)


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB chunks."""
    if not path.is_file():
        raise ParameterError(f"{_OWNER}: released file {str(path)!r} does not exist; write it before the bundle")
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> Path:
    """Write text to a temporary file beside `path`, fsync, then os.replace: all or nothing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
