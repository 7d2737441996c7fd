-- name: out_attendance_panel
-- grain: pupil x academic year (pupils on the spring census of each cohort year)
-- params: $keep_excluded, $census_years
-- depends: cohort_pupil_year, out_exclusions
-- Each cohort row (pupil x census year) with that academic year's absence and exclusions, and the
-- census's current-year fsm_eligible and sen_provision. Absence: the sessions summed over the
-- pupil-year's enrolments, stored with the grid (flag_grid). Pupil-years over 420
-- possible sessions have no absence measures, as pupils without an absence record; rates are
-- sessions missed / sessions possible (null when nothing was possible).
-- Persistent absence: rate >= 0.10; severe: rate >= 0.50 (compared in integers, 10 x missed >=
-- possible, so that exactly 10% is persistent despite binary floating point). 2019/20 (year 2020)
-- holds the autumn term only (partial_year); 2020/21 and 2021/22 counted code X sessions as
-- possible, not absent (code_x_year). Exclusion counts are 0 for pupils without an exclusion in a
-- year the extract covers, null for years it does not cover (the covered years are those of the
-- per-pupil counts, so that the exclusions are read and de-duplicated once).
WITH cohort AS (
    -- absence sums are kept only where at most 420 sessions were possible
    SELECT
        pupil_id, census_year, la, school_id, nc_year, cohort, treated, exclusion_reason, ever_cin, ever_cpp,
        ever_cla, ever_cwsw, current_cwsw, highest_level, ever6_fsm, fsm_eligible, sen_provision,
        CASE WHEN sessions_possible <= 420 THEN sessions_possible END AS sessions_possible,
        CASE WHEN sessions_possible <= 420 THEN overall_absence END AS overall_absence,
        CASE WHEN sessions_possible <= 420 THEN authorised_absence END AS authorised_absence,
        CASE WHEN sessions_possible <= 420 THEN unauthorised_absence END AS unauthorised_absence
    FROM cohort_pupil_year
    WHERE ARRAY_CONTAINS($census_years, census_year) AND ($keep_excluded OR cohort <> 'excluded')
),
exclusion_counts AS (
    SELECT * FROM out_exclusions WHERE ARRAY_CONTAINS($census_years, academic_year)
),
exclusion_years AS (
    SELECT DISTINCT academic_year FROM exclusion_counts
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
    c.fsm_eligible,
    c.sen_provision,
    c.sessions_possible,
    c.overall_absence,
    c.authorised_absence,
    c.unauthorised_absence,
    c.overall_absence / NULLIF(CAST(c.sessions_possible AS DOUBLE), 0) AS overall_absence_rate,
    c.authorised_absence / NULLIF(CAST(c.sessions_possible AS DOUBLE), 0) AS authorised_absence_rate,
    c.unauthorised_absence / NULLIF(CAST(c.sessions_possible AS DOUBLE), 0) AS unauthorised_absence_rate,
    CASE WHEN c.sessions_possible > 0 THEN
        CASE WHEN 10 * c.overall_absence >= c.sessions_possible THEN 1 ELSE 0 END
    END AS persistent_absence,
    CASE WHEN c.sessions_possible > 0 THEN
        CASE WHEN 2 * c.overall_absence >= c.sessions_possible THEN 1 ELSE 0 END
    END AS severe_absence,
    CASE WHEN c.census_year = 2020 THEN 1 ELSE 0 END AS partial_year,
    CASE WHEN c.census_year IN (2021, 2022) THEN 1 ELSE 0 END AS code_x_year,
    CASE WHEN y.academic_year IS NULL THEN NULL ELSE COALESCE(e.any_suspension, 0) END AS any_suspension,
    CASE WHEN y.academic_year IS NULL THEN NULL ELSE COALESCE(e.suspensions, 0) END AS suspensions,
    CASE WHEN y.academic_year IS NULL THEN NULL ELSE COALESCE(e.suspension_sessions, 0) END AS suspension_sessions,
    CASE WHEN y.academic_year IS NULL THEN NULL ELSE COALESCE(e.permanent_exclusion, 0) END AS permanent_exclusion
FROM cohort AS c
LEFT JOIN exclusion_counts AS e
    ON e.pupil_id = c.pupil_id AND e.academic_year = c.census_year
LEFT JOIN exclusion_years AS y
    ON y.academic_year = c.census_year
