-- name: out_attendance_panel
-- grain: pupil x academic year (pupils on the spring census of each cohort year)
-- params: $keep_excluded, $census_years
-- depends: cohort_pupil_census, stg_absence_enrolment, out_exclusions, stg_exclusions
-- Each cohort row (pupil x census year) with that academic year's absence and exclusions, and the
-- census's current-year fsm_eligible and sen_provision. Absence: enrolments are joined to the
-- panel's rows before they are summed, so only panel pupil-years are aggregated. Pupil-years over
-- 420 possible sessions are dropped; absence measures are null where the pupil has no (kept)
-- absence record. Rates are sessions missed / sessions possible (null when nothing was possible).
-- Persistent absence: rate >= 0.10; severe: rate >= 0.50 (compared in integers, 10 x missed >=
-- possible, so that exactly 10% is persistent despite binary floating point). 2019/20 (year 2020)
-- holds the autumn term only (partial_year); 2020/21 and 2021/22 counted code X sessions as
-- possible, not absent (code_x_year). Exclusion counts are 0 for pupils without an exclusion in a
-- year the extract covers, null for years it does not cover.
WITH exclusion_years AS (
    SELECT DISTINCT academic_year FROM stg_exclusions WHERE ARRAY_CONTAINS($census_years, academic_year)
),
cohort AS (
    SELECT * FROM cohort_pupil_census
    WHERE ARRAY_CONTAINS($census_years, census_year) AND ($keep_excluded OR cohort <> 'excluded')
),
attendance AS (
    -- the same rows as `cohort`, read again from the stored table (a second read of one CTE
    -- would make DuckDB store it)
    SELECT
        e.pupil_id,
        e.academic_year,
        CAST(SUM(e.sessions_possible) AS BIGINT) AS sessions_possible,
        CAST(SUM(e.overall_absence) AS BIGINT) AS overall_absence,
        CAST(SUM(e.authorised_absence) AS BIGINT) AS authorised_absence,
        CAST(SUM(e.unauthorised_absence) AS BIGINT) AS unauthorised_absence
    FROM stg_absence_enrolment AS e
    JOIN cohort_pupil_census AS k
        ON k.pupil_id = e.pupil_id AND k.census_year = e.academic_year
    WHERE ARRAY_CONTAINS($census_years, k.census_year) AND ($keep_excluded OR k.cohort <> 'excluded')
    GROUP BY e.pupil_id, e.academic_year
    HAVING SUM(e.sessions_possible) <= 420
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
    c.fsm_eligible,
    c.sen_provision,
    a.sessions_possible,
    a.overall_absence,
    a.authorised_absence,
    a.unauthorised_absence,
    a.overall_absence / NULLIF(CAST(a.sessions_possible AS DOUBLE), 0) AS overall_absence_rate,
    a.authorised_absence / NULLIF(CAST(a.sessions_possible AS DOUBLE), 0) AS authorised_absence_rate,
    a.unauthorised_absence / NULLIF(CAST(a.sessions_possible AS DOUBLE), 0) AS unauthorised_absence_rate,
    CASE WHEN a.sessions_possible > 0 THEN
        CASE WHEN 10 * a.overall_absence >= a.sessions_possible THEN 1 ELSE 0 END
    END AS persistent_absence,
    CASE WHEN a.sessions_possible > 0 THEN
        CASE WHEN 2 * a.overall_absence >= a.sessions_possible THEN 1 ELSE 0 END
    END AS severe_absence,
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
