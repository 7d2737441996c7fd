-- name: stg_absence_enrolment
-- grain: enrolment (pupil x school x academic year)
-- params: none
-- depends: absence
-- materialise: view
-- Termly sessions summed over the terms collected (a null term was not collected). Enrolments are
-- summed per pupil-year in stg_absence (every pupil-year) and flag_grid (the cohort
-- years, one year at a time). label_start opens the AcademicYear label, as in stg_census: a filter
-- on it reaches the parquet statistics, so that one year's sums read one year's file.
SELECT
    PupilMatchingRefAnonymous AS pupil_id,
    CAST(SUBSTRING(AcademicYear, 1, 4) AS INTEGER) + 1 AS academic_year,
    SUBSTRING(AcademicYear, 1, 4) AS label_start,
    COALESCE(SessionsPossible_Autumn, 0) + COALESCE(SessionsPossible_Spring, 0)
        + COALESCE(SessionsPossible_Summer, 0) + COALESCE(SessionsPossible_Summer6th, 0) AS sessions_possible,
    COALESCE(OverallAbsence_Autumn, 0) + COALESCE(OverallAbsence_Spring, 0)
        + COALESCE(OverallAbsence_Summer, 0) + COALESCE(OverallAbsence_Summer6th, 0) AS overall_absence,
    COALESCE(AuthorisedAbsence_Autumn, 0) + COALESCE(AuthorisedAbsence_Spring, 0)
        + COALESCE(AuthorisedAbsence_Summer, 0) + COALESCE(AuthorisedAbsence_Summer6th, 0) AS authorised_absence,
    COALESCE(UnauthorisedAbsence_Autumn, 0) + COALESCE(UnauthorisedAbsence_Spring, 0)
        + COALESCE(UnauthorisedAbsence_Summer, 0) + COALESCE(UnauthorisedAbsence_Summer6th, 0) AS unauthorised_absence
FROM absence
