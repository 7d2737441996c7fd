-- name: flag_fsm
-- grain: pupil x census year (pupils FSM-eligible at some census in the six years to the census)
-- params: $census_years
-- depends: stg_fsm_history, stg_census_dates
-- compress: yes
-- Derived Ever6 FSM: FSM-eligible at any census (any term) dated in the half-open interval
-- (c - 6 years, c] before the spring census date c. The six years are part of the definition of
-- Ever6 FSM (EVERFSM_6), not the CWSW look-back parameter. The window is resolved on the small
-- grid of census dates first (which census term x year falls in which cohort year's window), so
-- the eligible records meet it by an equality join and are then aggregated.
WITH census AS (
    SELECT
        academic_year AS census_year,
        census_date,
        CAST(census_date - INTERVAL '6' YEAR AS DATE) AS window_start
    FROM stg_census_dates
    WHERE census_term = 'SPR' AND ARRAY_CONTAINS($census_years, academic_year)
),
in_window AS (
    SELECT d.census_term, d.academic_year, c.census_year
    FROM stg_census_dates AS d
    JOIN census AS c
        ON d.census_date > c.window_start
       AND d.census_date <= c.census_date
)
SELECT
    h.pupil_id,
    w.census_year,
    1 AS ever6_fsm_derived,
    COUNT(*) AS fsm_censuses_in_window
FROM stg_fsm_history AS h
JOIN in_window AS w
    ON w.census_term = h.census_term
   AND w.academic_year = h.academic_year
GROUP BY h.pupil_id, w.census_year
