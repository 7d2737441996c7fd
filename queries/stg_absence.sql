-- name: stg_absence
-- grain: pupil x academic year (enrolments summed)
-- params: none
-- depends: absence
-- materialise: view
-- Termly sessions are summed over the terms collected (a null term was not collected) and then
-- over the pupil's enrolments in the year. The > 420 possible-sessions rule is applied to the
-- pupil-year total in out_attendance (and counted in attrition).
WITH enrolment AS (
    SELECT
        PupilMatchingRefAnonymous AS pupil_id,
        CAST(SUBSTRING(AcademicYear, 1, 4) AS INTEGER) + 1 AS academic_year,
        COALESCE(SessionsPossible_Autumn, 0) + COALESCE(SessionsPossible_Spring, 0)
            + COALESCE(SessionsPossible_Summer, 0) + COALESCE(SessionsPossible_Summer6th, 0) AS sessions_possible,
        COALESCE(OverallAbsence_Autumn, 0) + COALESCE(OverallAbsence_Spring, 0)
            + COALESCE(OverallAbsence_Summer, 0) + COALESCE(OverallAbsence_Summer6th, 0) AS overall_absence,
        COALESCE(AuthorisedAbsence_Autumn, 0) + COALESCE(AuthorisedAbsence_Spring, 0)
            + COALESCE(AuthorisedAbsence_Summer, 0) + COALESCE(AuthorisedAbsence_Summer6th, 0) AS authorised_absence,
        COALESCE(UnauthorisedAbsence_Autumn, 0) + COALESCE(UnauthorisedAbsence_Spring, 0)
            + COALESCE(UnauthorisedAbsence_Summer, 0) + COALESCE(UnauthorisedAbsence_Summer6th, 0) AS unauthorised_absence
    FROM absence
)
SELECT
    pupil_id,
    academic_year,
    CAST(COUNT(*) AS INTEGER) AS enrolments,
    CAST(SUM(sessions_possible) AS BIGINT) AS sessions_possible,
    CAST(SUM(overall_absence) AS BIGINT) AS overall_absence,
    CAST(SUM(authorised_absence) AS BIGINT) AS authorised_absence,
    CAST(SUM(unauthorised_absence) AS BIGINT) AS unauthorised_absence
FROM enrolment
GROUP BY pupil_id, academic_year
