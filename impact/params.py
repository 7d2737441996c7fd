"""Shared argument checks with one message template, so every public function fails the same way.

Message form: "The 'caliper' parameter of match must be a float in (0, inf). Got -1 instead."
"""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .errors import ParameterError


def _fail(owner: str, name: str, rule: str, value: Any) -> ParameterError:
    return ParameterError(f"The '{name}' parameter of {owner} must be {rule}. Got {value!r} instead.")


def check_choice(owner: str, name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return `value` if it is one of `choices`, else raise naming the allowed values."""
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        raise _fail(owner, name, f"one of {listed}", value)
    return value


def check_number(
    owner: str,
    name: str,
    value: Any,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
    integer: bool = False,
    allow_none: bool = False,
) -> Any:
    """Return `value` if it is a real number (an int if `integer`) within the stated interval."""
    if value is None and allow_none:
        return None
    kind = "an int" if integer else "a float"
    lo = "(" if low_open or low == -math.inf else "["
    hi = ")" if high_open or high == math.inf else "]"
    rule = f"{kind} in {lo}{_fmt(low)}, {_fmt(high)}{hi}"
    if allow_none:
        rule += " or None"
    ok_type = isinstance(value, int) if integer else isinstance(value, (int, float))
    if isinstance(value, bool) or not ok_type or (isinstance(value, float) and math.isnan(value)):
        raise _fail(owner, name, rule, value)
    if value < low or value > high or (low_open and value == low) or (high_open and value == high):
        raise _fail(owner, name, rule, value)
    return value


def check_columns_arg(owner: str, name: str, value: Any, *, allow_none: bool = False) -> list[str]:
    """Normalise a column-list argument (a name or a sequence of names) to a list of str."""
    if value is None:
        if allow_none:
            return []
        raise _fail(owner, name, "a column name or a list of column names", value)
    if isinstance(value, str):
        return [value]
    try:
        cols = list(value)
    except TypeError:
        raise _fail(owner, name, "a column name or a list of column names", value) from None
    if not all(isinstance(c, str) for c in cols):
        raise _fail(owner, name, "a column name or a list of column names", value)
    if len(set(cols)) != len(cols):
        raise _fail(owner, name, "a list of distinct column names", value)
    return cols


def _fmt(x: float) -> str:
    if x == math.inf:
        return "inf"
    if x == -math.inf:
        return "-inf"
    return f"{x:g}"
