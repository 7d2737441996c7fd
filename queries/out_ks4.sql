-- name: out_ks4
-- grain: pupil (KS4 record in a cohort year)
-- params: $keep_excluded
-- depends: stg_ks4, cohort_pupil_census
-- A pupil's KS4 results with the cohort assignment at the spring census of the same academic
-- year (Year 11). KS4 records with no spring census row that year are 'excluded' with reason
-- 'no_census_record'; KS4 years outside the cohort years are left out.
WITH years AS (
    SELECT DISTINCT census_year FROM cohort_pupil_census
)
SELECT
    k.pupil_id,
    k.ks4_year,
    COALESCE(c.la, k.ks4_la) AS la,
    COALESCE(c.school_id, k.ks4_school_id) AS school_id,
    COALESCE(c.cohort, 'excluded') AS cohort,
    c.treated,
    CASE WHEN c.pupil_id IS NULL THEN 'no_census_record' ELSE c.exclusion_reason END AS exclusion_reason,
    c.ever_cin,
    c.ever_cpp,
    c.ever_cla,
    c.ever_cwsw,
    c.current_cwsw,
    c.highest_level,
    c.ever6_fsm,
    k.att8,
    k.p8,
    k.em94,
    k.em95,
    k.ebacc_entry,
    k.grading_regime
FROM stg_ks4 AS k
JOIN years AS y
    ON y.census_year = k.ks4_year
LEFT JOIN cohort_pupil_census AS c
    ON c.pupil_id = k.pupil_id AND c.census_year = k.ks4_year
WHERE $keep_excluded OR COALESCE(c.cohort, 'excluded') <> 'excluded'
