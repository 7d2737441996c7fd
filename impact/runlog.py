"""The run log: stage, counts and timings only, written under `<output>/logs/run.log`.

Log lines are built from aggregate facts (row counts, stage names, durations, statuses).
Callers must never pass row-level values or identifiers; the canary tests of the pipeline
check that none reach the file.
"""
from __future__ import annotations

import logging
from pathlib import Path

LOGGER_NAME = "impact"


def get_logger() -> logging.Logger:
    """The package logger; silent unless a run attaches a handler (no root-logger changes)."""
    logger = logging.getLogger(LOGGER_NAME)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


def attach_file(path: Path) -> logging.Handler:
    """Log INFO and above to `path` (created with its folder); returns the handler to detach."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    handler.setLevel(logging.INFO)
    logger = get_logger()
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    return handler


def detach(handler: logging.Handler) -> None:
    """Remove and close a handler added by `attach_file`."""
    logger = get_logger()
    logger.removeHandler(handler)
    handler.close()
