-- name: out_attendance_panel
-- grain: pupil x academic year (pupils on the spring census of each cohort year)
-- params: $keep_excluded, $census_years
-- depends: cohort_pupil_census, out_attendance, out_exclusions, stg_exclusions
-- Each cohort row (pupil x census year) with that academic year's absence and exclusions.
-- Absence measures are null where the pupil has no (kept) absence record. Exclusion counts are 0
-- for pupils without an exclusion in a year the extract covers, null for years it does not cover.
-- The year filters reach the absence and exclusion scans, below their per pupil-year sums, so
-- records of years outside the cohort years are never summed.
WITH exclusion_years AS (
    SELECT DISTINCT academic_year FROM stg_exclusions WHERE ARRAY_CONTAINS($census_years, academic_year)
),
cohort AS (
    SELECT * FROM cohort_pupil_census
    WHERE ARRAY_CONTAINS($census_years, census_year) AND ($keep_excluded OR cohort <> 'excluded')
),
attendance AS (
    SELECT * FROM out_attendance WHERE ARRAY_CONTAINS($census_years, academic_year)
),
exclusion_counts AS (
    SELECT * FROM out_exclusions WHERE ARRAY_CONTAINS($census_years, academic_year)
)
SELECT
    c.pupil_id,
    c.census_year AS academic_year,
    c.la,
    c.school_id,
    c.nc_year,
    c.cohort,
    c.treated,
    c.exclusion_reason,
    c.ever_cin,
    c.ever_cpp,
    c.ever_cla,
    c.ever_cwsw,
    c.current_cwsw,
    c.highest_level,
    c.ever6_fsm,
    a.sessions_possible,
    a.overall_absence,
    a.authorised_absence,
    a.unauthorised_absence,
    a.overall_absence_rate,
    a.authorised_absence_rate,
    a.unauthorised_absence_rate,
    a.persistent_absence,
    a.severe_absence,
    CASE WHEN c.census_year = 2020 THEN 1 ELSE 0 END AS partial_year,
    CASE WHEN c.census_year IN (2021, 2022) THEN 1 ELSE 0 END AS code_x_year,
    CASE WHEN y.academic_year IS NULL THEN NULL ELSE COALESCE(e.any_suspension, 0) END AS any_suspension,
    CASE WHEN y.academic_year IS NULL THEN NULL ELSE COALESCE(e.suspensions, 0) END AS suspensions,
    CASE WHEN y.academic_year IS NULL THEN NULL ELSE COALESCE(e.suspension_sessions, 0) END AS suspension_sessions,
    CASE WHEN y.academic_year IS NULL THEN NULL ELSE COALESCE(e.permanent_exclusion, 0) END AS permanent_exclusion
FROM cohort AS c
LEFT JOIN attendance AS a
    ON a.pupil_id = c.pupil_id AND a.academic_year = c.census_year
LEFT JOIN exclusion_counts AS e
    ON e.pupil_id = c.pupil_id AND e.academic_year = c.census_year
LEFT JOIN exclusion_years AS y
    ON y.academic_year = c.census_year
