"""Calendar helpers on int32 day numbers (days since 1970-01-01), vectorised."""
from __future__ import annotations

import datetime as _dt

import numpy as np

_EPOCH = np.datetime64("1970-01-01", "D")


def day(y: int, m: int, d: int) -> int:
    """Day number of a calendar date."""
    return (_dt.date(y, m, d) - _dt.date(1970, 1, 1)).days


def spring_census(year: int) -> int:
    """Third Thursday of January of `year` (the spring census day of academic year `year`)."""
    first = _dt.date(year, 1, 1)
    offset = (3 - first.weekday()) % 7  # Thursday = 3
    return day(year, 1, 1 + offset + 14)


def years_before(d: int, years: int) -> int:
    """Same day and month `years` earlier (29 February becomes 28 February)."""
    t = _dt.date(1970, 1, 1) + _dt.timedelta(days=d)
    try:
        back = t.replace(year=t.year - years)
    except ValueError:
        back = t.replace(year=t.year - years, day=28)
    return (back - _dt.date(1970, 1, 1)).days


def birthday(dob: np.ndarray, years: int) -> np.ndarray:
    """Day number of the `years`-th birthday (days of month are 1-28, so this is exact)."""
    d = (_EPOCH + dob.astype("timedelta64[D]"))
    month_start = d.astype("datetime64[M]")
    offset = (d - month_start.astype("datetime64[D]")).astype(np.int32)
    return ((month_start + np.timedelta64(12 * years, "M")).astype("datetime64[D]") - _EPOCH).astype(np.int32) + offset


def collection_year(d: np.ndarray) -> np.ndarray:
    """CIN/CLA collection year (1 April Y-1 to 31 March Y) containing each day."""
    dt = _EPOCH + d.astype("timedelta64[D]")
    y = dt.astype("datetime64[Y]").astype(np.int32) + 1970
    m = dt.astype("datetime64[M]").astype(np.int32) % 12 + 1
    return (y + (m >= 4)).astype(np.int16)


def age_at(dob: np.ndarray, d: int | np.ndarray) -> np.ndarray:
    """Completed years of age at day `d` (approximate to a day around birthdays)."""
    return ((np.asarray(d) - dob) / 365.25).astype(np.int16)


def academic_year_label(y: int) -> str:
    return f"{y - 1}/{y}"
