"""Tiny hand-made NPD-style extracts, written as parquet to tmp_path.

`good_tables()` returns a valid extract as {file name: {column: values}}: suffixed spring
census files for two years, a multi-year CIN file, and a few rows for every other required
table. Tests copy it, break one thing, and write it with `write_extract`.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

Tables = dict[str, dict[str, list]]


def _census(year: int) -> dict[str, list]:
    s = f"_SPR{year % 100:02d}"
    return {
        f"PupilMatchingRefAnonymous{s}": ["P001", "P002", "P003"],
        f"CensusDate{s}": [date(year, 1, 16)] * 3,
        f"LA{s}": [201, 201, 334],
        f"LAESTAB{s}": [2012001, 2012001, 3344001],
        f"EnrolStatus{s}": ["C", "C", "M"],
        f"NCyearActual{s}": ["9", "10", "11"],
        f"YearOfBirth{s}": [2006, 2005, 2004],
        f"MonthOfBirth{s}": [3, 11, 7],
        f"Gender{s}": ["M", "F", "F"],
        f"EthnicGroupMajor{s}": ["WHIT", "ASIA", "BLAC"],
        f"FirstLanguage{s}": ["ENG", "OTH", "ENG"],
        f"FSMeligible{s}": [0, 1, 1],
        f"EVERFSM_6{s}": [0, 1, 1],
        f"SENprovision{s}": ["N", "K", "E"],
    }


def good_tables() -> Tables:
    """A valid extract: every required table, no errors and no warnings."""
    return {
        "spring_census_2020.parquet": _census(2020),
        "spring_census_2021.parquet": _census(2021),
        "absence.parquet": {
            "PupilMatchingRefAnonymous": ["P001", "P002", "P003"],
            "AcademicYear": ["2020/2021", "2020/2021", "2020/21"],
            "LA": [201, 201, 334],
            "LAESTAB": [2012001, 2012001, 3344001],
            **{
                f"{m}_{t}": v
                for t in ("Autumn", "Spring", "Summer")
                for m, v in (
                    ("SessionsPossible", [140, 120, 130]),
                    ("AuthorisedAbsence", [5, 10, 0]),
                    ("UnauthorisedAbsence", [1, 2, 0]),
                    ("OverallAbsence", [6, 12, 0]),
                )
            },
        },
        "exclusions.parquet": {
            "PupilMatchingRefAnonymous": ["P002", "P002"],
            "AcademicYear": ["2020/2021", "2020/2021"],
            "LA": [201, 201],
            "LAESTAB": [2012001, 2012001],
            "Category": ["FIXD", "FIXD"],
            "Sessions": [2.0, 1.5],
            "StartDate": [date(2020, 11, 3), date(2021, 2, 9)],
        },
        "ks2.parquet": {
            "KS2_PupilMatchingRefAnonymous": ["P001", "P002", "P003"],
            "KS2_ACADYR": ["2016/2017", "2015/2016", "2014/2015"],
            "KS2_READSCORE": [104, 98, 111],
            "KS2_MATSCORE": [101, 95, 120],
            "KS2_READEXP": [1, 0, 1],
            "KS2_MATEXP": [1, 0, 1],
        },
        "ks4.parquet": {
            "KS4_PupilMatchingRefAnonymous": ["P003"],
            "KS4_ACADYR": ["2020/2021"],
            "KS4_LA": [334],
            "KS4_LAESTAB": [3344001],
            "KS4_ATT8": [52.5],
            "KS4_P8SCORE": [0.31],
            "KS4_L2BASICS_94": [1],
            "KS4_L2BASICS_95": [1],
            "KS4_EBACC_E_PTQ_EE": [0],
        },
        "cin.parquet": {
            "CIN_PupilMatchingRefAnonymous": ["P002", "P002", "P003"],
            "CIN_LAchildID_Anon": ["C1", "C1", "C7"],
            "CIN_LA": [201, 201, 334],
            "CIN_ACADYR": ["2019/2020", "2020/2021", "2020/2021"],
            "CIN_Gender": [2, 2, 2],
            "CIN_ReferralDate": [date(2019, 6, 1), date(2019, 6, 1), date(2020, 9, 14)],
            "CIN_ReferralNFA": [0, 0, 0],
            "CIN_PrimaryNeedCode": ["N1", "N1", "N4"],
            "CIN_CINClosureDate": [None, date(2020, 12, 1), None],
            "CIN_ReasonForClosure": [None, "RC2", None],
            "CIN_CPPstartDate": [date(2019, 7, 1), date(2019, 7, 1), None],
            "CIN_CPPendDate": [None, date(2020, 10, 1), None],
        },
        "cla_episodes.parquet": {
            "CLA_PupilMatchingRefAnonymous": ["P003"],
            "CLA_CHILD_ID_Anon": ["K9"],
            "CLA_LA": [334],
            "CLA_ACADYR": ["2020/2021"],
            "CLA_SEX": [2],
            "CLA_POC_START": [date(2020, 10, 2)],
            "CLA_DECOM": [date(2020, 10, 2)],
            "CLA_DEC": [date(2021, 2, 1)],
            "CLA_RNE": ["S"],
            "CLA_LS": ["C2"],
            "CLA_PLACE": ["U4"],
            "CLA_REC": ["E8"],
        },
        "la_lookup.parquet": {
            "LA": [201, 334],
            "LA_9Code": ["E09000001", "E08000029"],
            "LA_Name": ["City of London", "Solihull"],
            "Region": ["London", "West Midlands"],
        },
        "pp_plus_pilot.parquet": {"LA": [334], "FirstYear": ["2021/2022"]},
    }


def write_tables(directory: Path, tables: Tables) -> Path:
    """Write each table as a parquet file in `directory` (values may be lists or arrow arrays)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, columns in tables.items():
        pq.write_table(pa.table(columns), directory / name)
    return directory


@pytest.fixture
def write_extract(tmp_path: Path) -> Callable[[Tables], Path]:
    """Write a (possibly broken) extract to a fresh folder under tmp_path and return the folder."""
    counter = iter(range(1_000))

    def write(tables: Tables) -> Path:
        return write_tables(tmp_path / f"extract{next(counter)}", tables)

    return write


@pytest.fixture
def extract_dir(write_extract) -> Path:
    """The valid extract written to disk."""
    return write_extract(good_tables())
