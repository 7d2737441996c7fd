-- name: stg_census_dates
-- grain: census term x academic year
-- params: none
-- depends: autumn_census, spring_census, summer_census
-- The census day of each term and year: the earliest CensusDate the extract records, else the
-- rule in definitions.md (autumn: 1st Thursday of October Y-1; spring: 3rd Thursday of January Y;
-- summer: 3rd Thursday of May Y). Thursday is day 4 when Sunday is 0, so the first Thursday of a
-- month starting on weekday w is (11 - w) mod 7 days after the 1st.
-- The rows are grouped by their label as written first and the labels parsed after (one parse per
-- label, not per row: nationally the per-row parse was about 2 of the model's 3 CPU-s).
WITH recorded AS (
    SELECT 'AUT' AS census_term, AcademicYear AS academic_year_label, CAST(CensusDate AS DATE) AS census_date FROM autumn_census
    UNION ALL
    SELECT 'SPR', AcademicYear, CAST(CensusDate AS DATE) FROM spring_census
    UNION ALL
    SELECT 'SUM', AcademicYear, CAST(CensusDate AS DATE) FROM summer_census
),
per_label AS (
    SELECT census_term, academic_year_label, MIN(census_date) AS recorded_date
    FROM recorded
    GROUP BY census_term, academic_year_label
),
per_year AS (
    SELECT
        census_term,
        CAST(SUBSTRING(academic_year_label, 1, 4) AS INTEGER) + 1 AS academic_year,
        MIN(recorded_date) AS recorded_date
    FROM per_label
    GROUP BY census_term, CAST(SUBSTRING(academic_year_label, 1, 4) AS INTEGER) + 1
),
month_start AS (
    SELECT
        census_term,
        academic_year,
        recorded_date,
        CASE census_term
            WHEN 'AUT' THEN MAKE_DATE(academic_year - 1, 10, 1)
            WHEN 'SPR' THEN MAKE_DATE(academic_year, 1, 1)
            ELSE MAKE_DATE(academic_year, 5, 1)
        END AS first_of_month,
        CASE census_term WHEN 'AUT' THEN 0 ELSE 14 END AS extra_days
    FROM per_year
)
SELECT
    census_term,
    academic_year,
    COALESCE(
        recorded_date,
        first_of_month + CAST(MOD(11 - CAST(EXTRACT(DOW FROM first_of_month) AS INTEGER), 7) AS INTEGER) + extra_days
    ) AS census_date,
    CASE WHEN recorded_date IS NULL THEN 1 ELSE 0 END AS census_date_from_rule
FROM month_start
