-- name: stg_absence
-- grain: pupil x academic year (enrolments summed)
-- params: none
-- depends: stg_absence_enrolment
-- materialise: view
-- Every pupil-year's sessions, summed over its enrolments (for attrition counts and the baseline
-- covariates' prior-year absence). The > 420 possible-sessions rule is applied to the pupil-year
-- total where the totals are used (and counted in attrition). Grouped by label_start too (it
-- names the same year) so that a filter on it reaches the extract scan.
SELECT
    pupil_id,
    academic_year,
    label_start,
    CAST(COUNT(*) AS INTEGER) AS enrolments,
    CAST(SUM(sessions_possible) AS BIGINT) AS sessions_possible,
    CAST(SUM(overall_absence) AS BIGINT) AS overall_absence,
    CAST(SUM(authorised_absence) AS BIGINT) AS authorised_absence,
    CAST(SUM(unauthorised_absence) AS BIGINT) AS unauthorised_absence
FROM stg_absence_enrolment
GROUP BY pupil_id, academic_year, label_start
