"""DuckDB column types against contract column kinds: which types fit, which can be stacked."""
from __future__ import annotations

INTEGER_TYPES = frozenset({
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT",
    "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT",
})
FLOAT_TYPES = frozenset({"FLOAT", "DOUBLE"})

NULL_TYPES = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR", "date": "DATE", "flag": "TINYINT"}
"""DuckDB type of the NULL column put in a view where an extract lacks a contract column."""

EXPECTED = {
    "int": "an integer type (INTEGER, BIGINT, ...)",
    "float": "a numeric type (DOUBLE, DECIMAL, INTEGER, ...)",
    "str": "VARCHAR",
    "date": "DATE or TIMESTAMP",
    "flag": "an integer type or BOOLEAN (0/1)",
}
"""What each contract kind accepts, in words for messages."""


def _is_numeric(t: str) -> bool:
    return t in INTEGER_TYPES or t in FLOAT_TYPES or t.startswith("DECIMAL")


def type_fits(kind: str, duckdb_type: str) -> bool:
    """Whether a DuckDB column type can hold a contract column of this kind."""
    t = duckdb_type.upper()
    if kind == "int":
        return t in INTEGER_TYPES
    if kind == "float":
        return _is_numeric(t)
    if kind == "str":
        return t == "VARCHAR"
    if kind == "date":
        return t == "DATE" or t.startswith("TIMESTAMP")
    if kind == "flag":
        return t in INTEGER_TYPES or t == "BOOLEAN"
    raise ValueError(f"unknown column kind {kind!r}")


def stackable(types: set[str]) -> bool:
    """Whether columns of these types can be stacked in one view without a failing cast.

    DuckDB picks a common type when per-year files are stacked, but a cast between families
    (e.g. BOOLEAN to DATE) only fails once rows are read; numbers (with BOOLEAN) and
    dates/timestamps each form one family, and anything stacks with VARCHAR.
    """
    families = set()
    for t in (x.upper() for x in types):
        if t == "VARCHAR":
            continue
        if _is_numeric(t) or t == "BOOLEAN":
            families.add("number")
        elif t == "DATE" or t.startswith("TIMESTAMP"):
            families.add("time")
        else:
            families.add(t)
    return len(families) <= 1
