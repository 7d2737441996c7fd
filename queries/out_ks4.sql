-- name: out_ks4
-- grain: pupil (KS4 record in a cohort year)
-- params: $keep_excluded
-- depends: stg_ks4, cohort_pupil_census, flag_fsm
-- A pupil's KS4 results with the cohort assignment at the spring census of the same academic
-- year (Year 11). KS4 records with no spring census row that year are 'excluded' with reason
-- 'no_census_record'; KS4 years outside the cohort years are left out. ever6_fsm_years: the
-- number of spring censuses in the six years to the KS4 year (Year 6 to Year 11, the years that
-- decide Ever6 FSM) at which the pupil was FSM-eligible (0 when none; years before the first
-- extract count as not eligible), a matching covariate that holds the comparison group's FSM
-- exposure fixed while FSM eligibility widens across cohorts. It is counted from flag_fsm's
-- spring_years bits (one row per FSM-eligible pupil and block of census years, the block holding
-- the KS4 year), not from the FSM records of every census: nationally that was a de-duplication
-- of 12M spring records and a join of them to the KS4 pupils, about 12 of the model's 30 CPU-s.
WITH years AS (
    SELECT DISTINCT census_year FROM cohort_pupil_census
),
cohort_ks4 AS (
    SELECT k.* FROM stg_ks4 AS k JOIN years AS y ON y.census_year = k.ks4_year
),
fsm_years AS (
    SELECT k.pupil_id,
           CAST(BIT_COUNT((f.spring_years >> (k.ks4_year - f.first_year)) & 63) AS INTEGER) AS ever6_fsm_years
    FROM cohort_ks4 AS k
    JOIN flag_fsm AS f
        ON f.pupil_id = k.pupil_id AND k.ks4_year BETWEEN f.first_year AND f.first_year + 55
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
    COALESCE(f.ever6_fsm_years, 0) AS ever6_fsm_years,
    k.att8,
    k.p8,
    k.em94,
    k.em95,
    k.ebacc_entry,
    k.grading_regime
FROM cohort_ks4 AS k
LEFT JOIN cohort_pupil_census AS c
    ON c.pupil_id = k.pupil_id AND c.census_year = k.ks4_year
LEFT JOIN fsm_years AS f
    ON f.pupil_id = k.pupil_id
WHERE $keep_excluded OR COALESCE(c.cohort, 'excluded') <> 'excluded'
