-- name: out_post16
-- grain: care leaver (LA x child id) x collection year, activity at ages 17 and 18
-- params: $census_years
-- depends: stg_care_leavers, pp_plus_pilot
-- Pilot LAs come from pp_plus_pilot: pilot_first_year is the first academic year the LA took
-- part; pilot_wave numbers the distinct first years in order (2021/22 -> 1, ...); in_pilot is 1
-- from the first year on. Non-pilot LAs have null first year and wave and in_pilot 0.
WITH pilot AS (
    SELECT
        CAST(LA AS INTEGER) AS la,
        CAST(SUBSTRING(FirstYear, 1, 4) AS INTEGER) + 1 AS pilot_first_year
    FROM pp_plus_pilot
),
waves AS (
    SELECT la, pilot_first_year, DENSE_RANK() OVER (ORDER BY pilot_first_year) AS pilot_wave
    FROM pilot
)
SELECT
    s.pupil_id,
    s.la,
    s.child_id,
    s.collection_year,
    s.age,
    s.in_touch,
    s.activity,
    s.eet,
    w.pilot_first_year,
    w.pilot_wave,
    CASE WHEN w.pilot_first_year IS NOT NULL AND s.collection_year >= w.pilot_first_year THEN 1 ELSE 0 END AS in_pilot
FROM stg_care_leavers AS s
LEFT JOIN waves AS w
    ON w.la = s.la
WHERE s.age IN (17, 18)
  AND ARRAY_CONTAINS($census_years, s.collection_year)
