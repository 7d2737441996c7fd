-- name: stg_fsm_history
-- grain: enrolment recorded FSM-eligible (pupil x census term x academic year, once per enrolment)
-- params: none
-- depends: autumn_census, spring_census, summer_census, stg_census_dates
-- materialise: view
-- Every census (any term, any registration) at which the pupil was FSM-eligible: eligibility is a
-- property of the pupil, so any enrolment recording it counts. Not de-duplicated: a pupil with two
-- eligible enrolments in one census appears twice, and its reader (flag_fsm's BIT_OR) counts
-- censuses, not rows.
WITH eligible AS (
    SELECT 'AUT' AS census_term, PupilMatchingRefAnonymous AS pupil_id, AcademicYear AS academic_year_label
    FROM autumn_census WHERE CAST(FSMeligible AS INTEGER) = 1
    UNION ALL
    SELECT 'SPR', PupilMatchingRefAnonymous, AcademicYear FROM spring_census WHERE CAST(FSMeligible AS INTEGER) = 1
    UNION ALL
    SELECT 'SUM', PupilMatchingRefAnonymous, AcademicYear FROM summer_census WHERE CAST(FSMeligible AS INTEGER) = 1
)
SELECT e.pupil_id, e.census_term, d.academic_year, d.census_date
FROM eligible AS e
JOIN stg_census_dates AS d
    ON d.census_term = e.census_term
   AND d.academic_year = CAST(SUBSTRING(e.academic_year_label, 1, 4) AS INTEGER) + 1
