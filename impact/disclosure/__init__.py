"""Statistical disclosure control: every released table passes through check_table.

See docs/explanation/disclosure.md for the rules, their defaults and their sources.
"""
from __future__ import annotations

from .bundle import write_disclosure_json
from .check import KINDS, check_table
from .checked import CheckedTable, require_pass
from .config import DisclosureConfig
from .identifiers import strip_identifiers
from .tables import magnitude_table

__all__ = [
    "KINDS",
    "CheckedTable",
    "DisclosureConfig",
    "check_table",
    "magnitude_table",
    "require_pass",
    "strip_identifiers",
    "write_disclosure_json",
]
