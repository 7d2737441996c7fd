"""Tiny hand-made extracts for the SQL tests: contract tables built from lists of dicts.

`connect(cin=[...], spring_census=[...])` registers each table on a fresh DuckDB connection with
exactly its contract's columns and types; columns a row leaves out are typed NULLs, and tables
not given are registered empty. Unknown column names raise, so a typo cannot pass silently.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa

from impact.cohorts import contract_schema, register_missing_tables
from impact.data.contracts import CONTRACTS


def _value(v: Any, t: pa.DataType) -> Any:
    if isinstance(v, str) and pa.types.is_date32(t):
        return dt.date.fromisoformat(v)
    return v


def table(name: str, rows: list[dict[str, Any]]) -> pa.Table:
    schema = contract_schema(CONTRACTS[name])
    unknown = sorted({k for r in rows for k in r} - set(schema.names))
    if unknown:
        raise KeyError(f"{name}: no contract column(s) {unknown}")
    return pa.table({f.name: pa.array([_value(r.get(f.name), f.type) for r in rows], type=f.type) for f in schema}, schema=schema)


def connect(**tables: list[dict[str, Any]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    for name, rows in tables.items():
        con.register(name, table(name, rows))
    register_missing_tables(con)
    return con


def year_label(year: int) -> str:
    """2023 -> '2022/2023'."""
    return f"{year - 1}/{year}"


def census(pmr: str, year: int, **columns: Any) -> dict[str, Any]:
    """A census row (any term) with plain defaults: single registration in LA 201, not FSM."""
    row = {
        "PupilMatchingRefAnonymous": pmr, "AcademicYear": year_label(year), "LA": 201, "LAESTAB": 2012001,
        "EnrolStatus": "C", "NCyearActual": "9", "Gender": "F", "EthnicGroupMajor": "WHIT",
        "FirstLanguage": "ENG", "FSMeligible": 0, "SENprovision": "N", "MonthOfBirth": 3, "YearOfBirth": 2009,
    }
    row.update(columns)
    return row


def cin(pmr: str | None, child: str, year: int, referral: str, closure: str | None = None, **columns: Any) -> dict[str, Any]:
    """A CIN return row: LA 201, collection year `year`, referral/closure dates."""
    row = {
        "CIN_PupilMatchingRefAnonymous": pmr, "CIN_LAchildID_Anon": child, "CIN_LA": 201,
        "CIN_ACADYR": year_label(year), "CIN_ReferralDate": referral, "CIN_CINClosureDate": closure,
        "CIN_ReferralNFA": 0, "CIN_ReasonForClosure": "RC1" if closure else None,
    }
    row.update(columns)
    return row


def cla(pmr: str | None, child: str, year: int, start: str, end: str | None = None, **columns: Any) -> dict[str, Any]:
    """A CLA episode return row: LA 201, legal status C2 unless given."""
    row = {
        "CLA_PupilMatchingRefAnonymous": pmr, "CLA_CHILD_ID_Anon": child, "CLA_LA": 201,
        "CLA_ACADYR": year_label(year), "CLA_DECOM": start, "CLA_DEC": end, "CLA_LS": "C2",
    }
    row.update(columns)
    return row
