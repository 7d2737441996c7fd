-- name: flag_fsm
-- grain: pupil x census year (pupils FSM-eligible at some census in the six years to the census)
-- params: $census_years
-- depends: stg_fsm_history, stg_census_dates
-- Derived Ever6 FSM: FSM-eligible at any census (any term) dated in the half-open interval
-- (c - 6 years, c] before the spring census date c. The six years are part of the definition of
-- Ever6 FSM (EVERFSM_6), not the CWSW look-back parameter. Eligible census records are joined to
-- the few census dates by range, then aggregated.
WITH census AS (
    SELECT
        academic_year AS census_year,
        census_date,
        CAST(census_date - INTERVAL '6' YEAR AS DATE) AS window_start
    FROM stg_census_dates
    WHERE census_term = 'SPR' AND academic_year IN (SELECT UNNEST($census_years))
)
SELECT
    h.pupil_id,
    c.census_year,
    1 AS ever6_fsm_derived,
    COUNT(*) AS fsm_censuses_in_window
FROM stg_fsm_history AS h
JOIN census AS c
    ON h.census_date > c.window_start
   AND h.census_date <= c.census_date
GROUP BY h.pupil_id, c.census_year
