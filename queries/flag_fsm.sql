-- name: flag_fsm
-- grain: pupil x block of 56 census years (pupils FSM-eligible at some census in the six years to a census year)
-- params: $census_years
-- depends: stg_fsm_history, stg_census_dates
-- compress: yes
-- uncompressed: pupil_id
-- Derived Ever6 FSM: FSM-eligible at any census (any term) dated in the half-open interval
-- (c - 6 years, c] before the spring census date c. The six years are part of the definition of
-- Ever6 FSM (EVERFSM_6), not the CWSW look-back parameter. The window is resolved on the small
-- grid of census dates first (which census term x year falls in which cohort years' windows,
-- those cohort years as bits of one integer), so that the eligible records meet it by an
-- equality join and are folded to one row per pupil by BIT_OR (one state per FSM-eligible pupil,
-- not one per pupil x cohort year). The rows stay folded: bit i of cohort_years is census year
-- first_year + i, and flag_grid decodes the years of its pass (a pass reads one row per
-- FSM-eligible pupil, not one per pupil x cohort year, and none is written for each year).
-- spring_years: bit i is FSM eligibility at the spring census of year first_year - 5 + i, for
-- the counts of spring censuses in a census year's six years (out_ks4's ever6_fsm_years,
-- cov_baseline's fsm_history_years), which every such record falls in, so that those readers
-- need not de-duplicate the FSM records of every census again. Positions are taken in blocks of
-- 56 years from the first census year (first_year the block's first), so that every bit (up to
-- 55 + 5) fits a BIGINT whatever the span of years.
WITH census AS (
    SELECT
        academic_year AS census_year,
        census_date,
        CAST(census_date - INTERVAL '6' YEAR AS DATE) AS window_start,
        academic_year - MOD(academic_year - MIN(academic_year) OVER (), 56) AS first_year
    FROM stg_census_dates
    WHERE census_term = 'SPR' AND ARRAY_CONTAINS($census_years, academic_year)
),
in_window AS (
    SELECT d.census_term, d.academic_year, c.first_year,
           BIT_OR(CAST(POWER(2, c.census_year - c.first_year) AS BIGINT)) AS cohort_years,
           CASE WHEN d.census_term = 'SPR' AND d.academic_year >= c.first_year - 5
                THEN CAST(POWER(2, d.academic_year - c.first_year + 5) AS BIGINT) ELSE 0 END AS spring_year
    FROM stg_census_dates AS d
    JOIN census AS c
        ON d.census_date > c.window_start
       AND d.census_date <= c.census_date
    GROUP BY d.census_term, d.academic_year, c.first_year
)
SELECT
    h.pupil_id,
    w.first_year,
    BIT_OR(w.cohort_years) AS cohort_years,
    BIT_OR(w.spring_year) AS spring_years
FROM stg_fsm_history AS h
JOIN in_window AS w
    ON w.census_term = h.census_term
   AND w.academic_year = h.academic_year
GROUP BY h.pupil_id, w.first_year
