-- name: flag_fsm
-- grain: pupil x census year (pupils FSM-eligible at some census in the six years to the census)
-- params: $census_years
-- depends: stg_fsm_history, stg_census_dates
-- compress: yes
-- Derived Ever6 FSM: FSM-eligible at any census (any term) dated in the half-open interval
-- (c - 6 years, c] before the spring census date c. The six years are part of the definition of
-- Ever6 FSM (EVERFSM_6), not the CWSW look-back parameter. The window is resolved on the small
-- grid of census dates first (which census term x year falls in which cohort years' windows,
-- those cohort years as bits of one integer), so that the eligible records meet it by an
-- equality join and are folded to one row per pupil by BIT_OR (one state per FSM-eligible pupil,
-- not one per pupil x cohort year), then decoded to the cohort years. A bit is a cohort year's
-- position among the census years (0 for the first); positions are taken in blocks of 60 so that
-- every bit fits a BIGINT whatever the span of years.
WITH census AS (
    SELECT
        academic_year AS census_year,
        census_date,
        CAST(census_date - INTERVAL '6' YEAR AS DATE) AS window_start,
        (academic_year - MIN(academic_year) OVER ()) // 60 AS block,
        CAST(POWER(2, MOD(academic_year - MIN(academic_year) OVER (), 60)) AS BIGINT) AS year_bit
    FROM stg_census_dates
    WHERE census_term = 'SPR' AND ARRAY_CONTAINS($census_years, academic_year)
),
in_window AS (
    SELECT d.census_term, d.academic_year, c.block, BIT_OR(c.year_bit) AS cohort_years
    FROM stg_census_dates AS d
    JOIN census AS c
        ON d.census_date > c.window_start
       AND d.census_date <= c.census_date
    GROUP BY d.census_term, d.academic_year, c.block
),
pupils AS (
    SELECT h.pupil_id, w.block, BIT_OR(w.cohort_years) AS cohort_years
    FROM stg_fsm_history AS h
    JOIN in_window AS w
        ON w.census_term = h.census_term
       AND w.academic_year = h.academic_year
    GROUP BY h.pupil_id, w.block
)
SELECT
    p.pupil_id,
    c.census_year,
    1 AS ever6_fsm_derived
FROM pupils AS p
JOIN census AS c
    ON c.block = p.block
WHERE MOD(p.cohort_years // c.year_bit, 2) = 1
