"""Table contracts: the NPD-style extracts `impact` reads, in NPD's own column names and codes.

One `TableContract` per table says which files hold it, its grain and key, and for every
column its type, whether it is required, its allowed codes or range, and whether it is an
identifier (never released). Column names are the NPD names with any term/year suffix
stripped (`FSMeligible_SPR21` -> `FSMeligible`); key-stage tables keep their prefix
(`KS4_ATT8`). The synthetic generator writes these tables, the validator checks extracts
against them, and the staging SQL in `queries/` reads them.

Evidence tags in `source` follow ../shared/brief/npd-reference.md: "V-code" (seen in analysis
code on real NPD), "V-doc" (DfE documentation), "U" (unverified; our choice).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

Kind = Literal["str", "int", "float", "date", "flag"]
"""Column kinds: `flag` is 0/1 (integer or boolean); `date` is DATE or TIMESTAMP."""


@dataclass(frozen=True)
class Column:
    """One column of a table contract."""

    name: str
    kind: Kind
    description: str
    required: bool = True
    nullable: bool = True
    codes: tuple[str, ...] | tuple[int, ...] | None = None
    min: float | None = None
    max: float | None = None
    identifier: bool = False
    source: str = "V-code"


@dataclass(frozen=True)
class TableContract:
    """A table: the files that hold it, its grain and key, and the checks that apply to it.

    `files` are glob patterns relative to the extract directory, tried in order: per-year
    files (e.g. ``spring_census_2021.parquet``) or one file for all years.
    `suffix` is a regex with one group of two digits (the academic year's end) that real
    extracts append to every column (``_SPR21``); the reader strips it and derives the year.
    `not_after` lists (earlier, later) column pairs whose order is checked: dates, or
    counts such as absence sessions that cannot exceed sessions possible.
    `unlinked_share` names an identifier column whose null share is reported (CIN/CLA rows
    without a pupil matching reference cannot be linked to the NPD).
    """

    name: str
    description: str
    grain: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    files: tuple[str, ...]
    year_column: str
    required: bool = True
    suffix: str | None = None
    not_after: tuple[tuple[str, str], ...] = ()
    unlinked_share: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"table {self.name!r} has no column {name!r}")

    @property
    def identifiers(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.identifier)

    def year_from_suffix(self, column: str) -> int | None:
        """The academic year's end (e.g. 2021) carried by a suffixed column name, else None."""
        if self.suffix is None:
            return None
        m = re.search(self.suffix, column)
        return 2000 + int(m.group(1)) if m else None


# --- codes -----------------------------------------------------------------------------
ETHNIC_MAJOR = ("WHIT", "MIXD", "ASIA", "BLAC", "CHIN", "AOEG", "UNCL")
ETHNIC_MINOR = (
    "WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS", "MOTH", "AIND", "APKN",
    "ABAN", "AOTH", "BCRB", "BAFR", "BOTH", "CHNE", "OOTH", "REFU", "NOBT",
)
NC_YEARS = ("N1", "N2", "R", *(str(i) for i in range(1, 15)), "X")
SEN_PROVISION = ("N", "K", "E", "A", "P", "S")  # A/P -> K and S -> E before 2015
FIRST_LANGUAGE = ("ENG", "ENB", "OTH", "OTB", "UNCL")
ENROL_STATUS = ("C", "M", "S", "F", "G")  # C single, M main dual, S subsidiary dual
EXCLUSION_CATEGORY = ("PERM", "FIXD", "LNCH")
CIN_GENDER = (0, 1, 2, 9)
CIN_PRIMARY_NEED = tuple(f"N{i}" for i in range(10))
CIN_CLOSURE_REASON = tuple(f"RC{i}" for i in range(1, 9))  # RC8 = closed after assessment, not in need
CLA_LEGAL_STATUS = ("C1", "C2", "D1", "E1", "J1", "J2", "J3", "L1", "L2", "L3", "V2", "V3", "V4")
CLA_PLACEMENT = (
    "A3", "A4", "A5", "A6", "F1", "F2", "F3", "F4", "F5", "F6", "H5", "K1", "K2", "M2", "M3",
    "P1", "P2", "P3", "Q1", "Q2", "R1", "R2", "R3", "R5", "S1", "T0", "T1", "T2", "T3", "T4",
    "U1", "U2", "U3", "U4", "U5", "U6", "Z1",
)
CLA_REASON_NEW_EPISODE = ("S", "L", "P", "T", "B", "U")
CLA_REASON_ENDED = (
    "E11", "E12", "E13", "E14", "E15", "E16", "E17", "E2", "E3", "E41", "E45", "E46", "E47",
    "E48", "E4A", "E4B", "E5", "E6", "E7", "E8", "E9",
)
CARE_LEAVER_ACTIVITY = ("F1", "P1", "F2", "P2", "F4", "P4", "F5", "P5", "G4", "G5", "G6")
CARE_LEAVER_IN_TOUCH = ("YES", "NO", "DIED", "REFU", "NREQ", "RHOM")
REGIONS = (
    "North East", "North West", "Yorkshire and The Humber", "East Midlands", "West Midlands",
    "East of England", "London", "South East", "South West",
)

ACADEMIC_YEAR = "academic year as 'YYYY/YYYY' (e.g. '2020/2021'); 'YYYY/YY' is also accepted"

# --- tables ----------------------------------------------------------------------------
_PMR = "PupilMatchingRefAnonymous"


def _census(term: str, term_name: str, required: bool) -> TableContract:
    return TableContract(
        name=f"{term_name}_census",
        description=f"School census, {term_name} term: one row per pupil enrolment at the census date.",
        grain="pupil x school enrolment x census",
        key=(_PMR, "AcademicYear", "LAESTAB"),
        files=(f"{term_name}_census_*.parquet", f"{term_name}_census.parquet"),
        year_column="AcademicYear",
        required=required,
        suffix=rf"_{term}(\d\d)$",
        columns=(
            Column(_PMR, "str", "anonymised pupil matching reference", nullable=False, identifier=True),
            Column("AcademicYear", "str", ACADEMIC_YEAR, required=False),
            Column("CensusDate", "date", "census day", required=False),
            Column("LA", "int", "3-digit ('old') local authority code of the school", nullable=False, min=100, max=999),
            Column("LA_9Code", "str", "9-character LA code (E06/E08/E09/E10...)", required=False),
            Column("LAESTAB", "int", "LA code x 10000 + establishment number", nullable=False, identifier=True),
            Column("URN", "int", "unique reference number of the school", required=False, identifier=True),
            Column("EnrolStatus", "str", "C single registration, M main dual, S subsidiary dual", codes=ENROL_STATUS),
            Column("NCyearActual", "str", "national curriculum year group", codes=NC_YEARS),
            Column("YearOfBirth", "int", "year of birth", min=1990, max=2030),
            Column("MonthOfBirth", "int", "month of birth", min=1, max=12),
            Column("Gender", "str", "M / F (older files B / G)", codes=("M", "F", "B", "G")),
            Column("EthnicGroupMajor", "str", "major ethnic group", codes=ETHNIC_MAJOR),
            Column("EthnicGroupMinor", "str", "minor ethnic group", required=False, codes=ETHNIC_MINOR),
            Column("FirstLanguage", "str", "first language: English / other", codes=FIRST_LANGUAGE, source="U"),
            Column("FSMeligible", "flag", "eligible for free school meals at the census"),
            Column("EVERFSM_6", "flag", "FSM-eligible at any census in the last six years", required=False),
            Column("EVERFSM_6_P", "flag", "pupil-premium variant of EVERFSM_6", required=False),
            Column("FSM_protected", "flag", "FSM eligibility kept under UC transitional protection", required=False),
            Column("SENprovision", "str", "N none, K SEN support, E EHC plan (legacy A/P/S)", codes=SEN_PROVISION),
            Column("IDACIScore_15", "float", "IDACI 2015 score of the pupil's LSOA", required=False, min=0, max=1),
        ),
    )


SPRING_CENSUS = _census("SPR", "spring", True)
AUTUMN_CENSUS = _census("AUT", "autumn", False)
SUMMER_CENSUS = _census("SUM", "summer", False)

_TERMS = ("Autumn", "Spring", "Summer", "Summer6th")


def _absence_columns() -> tuple[Column, ...]:
    cols = [
        Column(_PMR, "str", "anonymised pupil matching reference", nullable=False, identifier=True),
        Column("AcademicYear", "str", ACADEMIC_YEAR, nullable=False),
        Column("LA", "int", "3-digit LA code of the school", min=100, max=999),
        Column("LAESTAB", "int", "school of the enrolment", nullable=False, identifier=True),
    ]
    for term in _TERMS:
        req = term != "Summer6th"
        for measure, what in (
            ("SessionsPossible", "sessions possible"),
            ("AuthorisedAbsence", "authorised absence sessions"),
            ("UnauthorisedAbsence", "unauthorised absence sessions"),
            ("OverallAbsence", "overall absence sessions"),
        ):
            cols.append(Column(f"{measure}_{term}", "int", f"{what}, {term} term (null: not collected)", required=req, min=0, max=420))
    return tuple(cols)


ABSENCE = TableContract(
    name="absence",
    description="Pupil absence, collected one term in arrears: one row per enrolment per academic year.",
    grain="pupil x school enrolment x academic year",
    key=(_PMR, "AcademicYear", "LAESTAB"),
    files=("absence_*.parquet", "absence.parquet"),
    year_column="AcademicYear",
    columns=_absence_columns(),
    not_after=tuple(
        (f"{m}_{t}", f"SessionsPossible_{t}") for t in _TERMS for m in ("OverallAbsence", "AuthorisedAbsence", "UnauthorisedAbsence")
    ),
    notes=(
        "2019/20: only the autumn term was collected; spring and summer are null.",
        "2020/21 and 2021/22: code X sessions count as possible but not as absence.",
    ),
)

EXCLUSIONS = TableContract(
    name="exclusions",
    description="Suspensions and permanent exclusions: one row per exclusion.",
    grain="exclusion",
    key=(_PMR, "AcademicYear", "LAESTAB", "StartDate", "Category"),
    files=("exclusions_*.parquet", "exclusions.parquet"),
    year_column="AcademicYear",
    columns=(
        Column(_PMR, "str", "anonymised pupil matching reference", nullable=False, identifier=True),
        Column("AcademicYear", "str", ACADEMIC_YEAR, nullable=False),
        Column("LA", "int", "3-digit LA code of the school", min=100, max=999),
        Column("LAESTAB", "int", "school", nullable=False, identifier=True),
        Column("Category", "str", "PERM permanent, FIXD suspension, LNCH lunchtime", nullable=False, codes=EXCLUSION_CATEGORY),
        Column("Sessions", "float", "length in sessions (half days)", min=0, max=400),
        Column("StartDate", "date", "first day of the exclusion", nullable=False),
    ),
)

KS2 = TableContract(
    name="ks2",
    description="Key stage 2 (end of primary) results: one row per pupil.",
    grain="pupil",
    key=("KS2_PupilMatchingRefAnonymous",),
    files=("ks2*.parquet",),
    year_column="KS2_ACADYR",
    columns=(
        Column("KS2_PupilMatchingRefAnonymous", "str", "anonymised pupil matching reference", nullable=False, identifier=True),
        Column("KS2_ACADYR", "str", ACADEMIC_YEAR, nullable=False),
        Column("KS2_LA", "int", "3-digit LA code of the school", required=False, min=100, max=999),
        Column("KS2_LAESTAB", "int", "school", required=False, identifier=True),
        Column("KS2_READSCORE", "int", "reading scaled score (80-120; null if not sat)", min=80, max=120, source="U"),
        Column("KS2_MATSCORE", "int", "maths scaled score (80-120; null if not sat)", min=80, max=120, source="U"),
        Column("KS2_READEXP", "flag", "reached the expected standard in reading"),
        Column("KS2_MATEXP", "flag", "reached the expected standard in maths"),
        Column("KS2_RWMEXP", "flag", "expected standard in reading, writing and maths", required=False, source="U"),
    ),
)

KS4 = TableContract(
    name="ks4",
    description="Key stage 4 (GCSE) results: one row per pupil at the end of Year 11.",
    grain="pupil",
    key=("KS4_PupilMatchingRefAnonymous",),
    files=("ks4*.parquet",),
    year_column="KS4_ACADYR",
    columns=(
        Column("KS4_PupilMatchingRefAnonymous", "str", "anonymised pupil matching reference", nullable=False, identifier=True),
        Column("KS4_ACADYR", "str", ACADEMIC_YEAR, nullable=False),
        Column("KS4_LA", "int", "3-digit LA code of the school", min=100, max=999),
        Column("KS4_LAESTAB", "int", "school", identifier=True),
        Column("KS4_ATT8", "float", "Attainment 8 score (max 90 from 2018)", min=0, max=90),
        Column("KS4_P8SCORE", "float", "Progress 8 score (null where not published: 2020, 2021, 2025)", min=-10, max=10),
        Column("KS4_INP8CALC", "flag", "included in the Progress 8 calculation", required=False),
        Column("KS4_L2BASICS_94", "flag", "grade 4 or above in English and maths"),
        Column("KS4_L2BASICS_95", "flag", "grade 5 or above in English and maths"),
        Column("KS4_EBACC_E_PTQ_EE", "flag", "entered for the English Baccalaureate"),
        Column("KS4_FSM6", "flag", "FSM-eligible in the last six years", required=False),
    ),
    notes=("The grading regime (exam / CAG 2020 / TAG 2021 / transition 2022) follows from KS4_ACADYR.",),
)

CIN = TableContract(
    name="cin",
    description=(
        "Children in Need census: one row per referral (CIN episode) per collection year "
        "(1 April - 31 March); episodes open across years repeat in each year."
    ),
    grain="CIN episode x collection year",
    key=("CIN_LA", "CIN_LAchildID_Anon", "CIN_ReferralDate", "CIN_ACADYR"),
    files=("cin*.parquet",),
    year_column="CIN_ACADYR",
    unlinked_share="CIN_PupilMatchingRefAnonymous",
    not_after=(("CIN_ReferralDate", "CIN_CINClosureDate"), ("CIN_CPPstartDate", "CIN_CPPendDate"),
               ("CIN_CINPlanStartDate", "CIN_CINPlanEndDate")),
    columns=(
        Column("CIN_PupilMatchingRefAnonymous", "str", "pupil matching reference (missing for about 30% of rows)", identifier=True),
        Column("CIN_LAchildID_Anon", "str", "child id, unique only within the LA", nullable=False, identifier=True),
        Column("CIN_LA", "int", "3-digit code of the LA making the return", nullable=False, min=100, max=999),
        Column("CIN_ACADYR", "str", "collection year as 'YYYY/YYYY' (1 April to 31 March)", nullable=False),
        Column("CIN_Gender", "int", "0 not known, 1 male, 2 female, 9 indeterminate", codes=CIN_GENDER),
        Column("CIN_ReferralDate", "date", "date of referral: start of the CIN episode", nullable=False),
        Column("CIN_ReferralNFA", "flag", "referral with no further action"),
        Column("CIN_PrimaryNeedCode", "str", "primary need N0-N9", codes=CIN_PRIMARY_NEED),
        Column("CIN_CINClosureDate", "date", "closure date (null: open at the end of the collection year)"),
        Column("CIN_ReasonForClosure", "str", "RC1-RC8 (RC8: closed after assessment, not in need)", codes=CIN_CLOSURE_REASON),
        Column("CIN_CPPstartDate", "date", "child protection plan start (null: no plan in the episode)"),
        Column("CIN_CPPendDate", "date", "child protection plan end (null: no plan or still open)"),
        Column("CIN_CINPlanStartDate", "date", "CIN plan start, where the extract carries it", required=False, source="U"),
        Column("CIN_CINPlanEndDate", "date", "CIN plan end, where the extract carries it", required=False, source="U"),
    ),
)

CLA_EPISODES = TableContract(
    name="cla_episodes",
    description=(
        "Children looked after (SSDA903): one row per episode of care per collection year "
        "(1 April - 31 March); episodes open across years repeat in each year."
    ),
    grain="CLA episode x collection year",
    key=("CLA_LA", "CLA_CHILD_ID_Anon", "CLA_DECOM", "CLA_ACADYR"),
    files=("cla_episodes*.parquet", "cla*.parquet"),
    year_column="CLA_ACADYR",
    unlinked_share="CLA_PupilMatchingRefAnonymous",
    not_after=(("CLA_DECOM", "CLA_DEC"), ("CLA_POC_START", "CLA_DECOM")),
    columns=(
        Column("CLA_PupilMatchingRefAnonymous", "str", "pupil matching reference (may be missing)", identifier=True),
        Column("CLA_CHILD_ID_Anon", "str", "child id, unique only within the LA", nullable=False, identifier=True),
        Column("CLA_LA", "int", "3-digit code of the responsible LA", nullable=False, min=100, max=999),
        Column("CLA_ACADYR", "str", "collection year as 'YYYY/YYYY' (1 April to 31 March)", nullable=False),
        Column("CLA_SEX", "int", "1 male, 2 female", codes=(1, 2)),
        Column("CLA_POC_START", "date", "start of the period of care", required=False),
        Column("CLA_DECOM", "date", "episode start date", nullable=False),
        Column("CLA_DEC", "date", "episode end date (null: open at 31 March)"),
        Column("CLA_RNE", "str", "reason for new episode", codes=CLA_REASON_NEW_EPISODE, source="U"),
        Column("CLA_LS", "str", "legal status (V3/V4 short breaks are usually excluded)", codes=CLA_LEGAL_STATUS),
        Column("CLA_PLACE", "str", "placement type", codes=CLA_PLACEMENT),
        Column("CLA_REC", "str", "reason episode ceased (E11/E12 adopted)", codes=CLA_REASON_ENDED, source="U"),
    ),
)

CARE_LEAVERS = TableContract(
    name="care_leavers",
    description="Care leavers' activity on or around their 17th to 21st birthdays (SSDA903 OC3): one row per young person per year.",
    grain="care leaver x collection year",
    key=("CLA_LA", "CLA_CHILD_ID_Anon", "CLA_ACADYR"),
    files=("care_leavers*.parquet",),
    year_column="CLA_ACADYR",
    required=False,
    unlinked_share="CLA_PupilMatchingRefAnonymous",
    columns=(
        Column("CLA_PupilMatchingRefAnonymous", "str", "pupil matching reference (may be missing)", identifier=True),
        Column("CLA_CHILD_ID_Anon", "str", "child id, unique only within the LA", nullable=False, identifier=True),
        Column("CLA_LA", "int", "3-digit code of the responsible LA", nullable=False, min=100, max=999),
        Column("CLA_ACADYR", "str", "collection year as 'YYYY/YYYY'", nullable=False),
        Column("CLA_AGE", "int", "age at the birthday the activity refers to", min=16, max=21),
        Column("CLA_IN_TOUCH", "str", "whether the LA is in touch", codes=CARE_LEAVER_IN_TOUCH, source="U"),
        Column("CLA_ACTIV", "str", "activity: F*/P* in education, employment or training; G* not (NEET)", codes=CARE_LEAVER_ACTIVITY, source="U"),
    ),
)

LA_LOOKUP = TableContract(
    name="la_lookup",
    description="Local authorities: one row per LA.",
    grain="local authority",
    key=("LA",),
    files=("la_lookup*.parquet",),
    year_column="",
    columns=(
        Column("LA", "int", "3-digit ('old') LA code", nullable=False, min=100, max=999),
        Column("LA_9Code", "str", "9-character LA code", nullable=False),
        Column("LA_Name", "str", "LA name", nullable=False),
        Column("Region", "str", "region of England", codes=REGIONS),
    ),
)

PP_PLUS_PILOT = TableContract(
    name="pp_plus_pilot",
    description="Post-16 Pupil Premium Plus pilot: the first academic year each LA took part (one row per pilot LA).",
    grain="local authority",
    key=("LA",),
    files=("pp_plus_pilot*.parquet",),
    year_column="FirstYear",
    required=False,
    columns=(
        Column("LA", "int", "3-digit LA code", nullable=False, min=100, max=999),
        Column("FirstYear", "str", "first academic year in the pilot ('2021/2022' for the first 30 LAs)", nullable=False),
    ),
)

CONTRACTS: dict[str, TableContract] = {
    c.name: c
    for c in (
        SPRING_CENSUS, AUTUMN_CENSUS, SUMMER_CENSUS, ABSENCE, EXCLUSIONS, KS2, KS4,
        CIN, CLA_EPISODES, CARE_LEAVERS, LA_LOOKUP, PP_PLUS_PILOT,
    )
}
"""Every table `impact` knows, by name."""
