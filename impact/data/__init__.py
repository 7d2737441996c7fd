"""NPD-style extracts: table contracts, discovery and registration as DuckDB views, validation."""
from __future__ import annotations

from .contracts import CONTRACTS, Column, TableContract
from .reference import contracts_markdown
from .sources import TableSource, check_mapping, discover, load_mapping, register_extracts, unknown_files
from .validate import Problem, ValidationReport, check_extracts

__all__ = [
    "CONTRACTS",
    "Column",
    "Problem",
    "TableContract",
    "TableSource",
    "ValidationReport",
    "check_extracts",
    "check_mapping",
    "contracts_markdown",
    "discover",
    "load_mapping",
    "register_extracts",
    "unknown_files",
]
