"""Identifier guard: drop pupil, child and school identifier columns before anything is output.

Only column NAMES are matched (case-insensitive globs from DisclosureConfig.identifier_patterns);
what was dropped is recorded by name, never by value.
"""
from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import polars as pl

from ..frame import as_polars
from .config import DisclosureConfig


def matches_any(column: str, patterns: tuple[str, ...]) -> bool:
    """True if the column name matches one of the globs, ignoring case."""
    name = column.lower()
    return any(fnmatchcase(name, p.lower()) for p in patterns)


def identifier_columns(columns: list[str], config: DisclosureConfig) -> list[str]:
    """The columns, in order, whose names look like identifiers under `config`."""
    return [c for c in columns if matches_any(c, config.identifier_patterns)]


def strip_identifiers(df: Any, config: DisclosureConfig | None = None) -> tuple[pl.DataFrame, tuple[str, ...]]:
    """Return (the table without identifier-looking columns, the names of the dropped columns)."""
    config = config if config is not None else DisclosureConfig()
    frame = as_polars(df, owner="strip_identifiers")
    dropped = tuple(identifier_columns(frame.columns, config))
    return frame.drop(list(dropped)), dropped
