-- name: out_attendance
-- grain: pupil x academic year (enrolments summed; pupil-years over 420 possible sessions dropped)
-- params: none
-- depends: stg_absence
-- materialise: view
-- Rates are sessions missed / sessions possible (null when nothing was possible). Persistent
-- absence: rate >= 0.10; severe: rate >= 0.50 (compared in integers, 10 x missed >= possible, so
-- that exactly 10% is persistent despite binary floating point). 2019/20 (year 2020) holds the autumn term only
-- (partial_year); 2020/21 and 2021/22 counted code X sessions as possible, not absent (code_x_year).
SELECT
    pupil_id,
    academic_year,
    enrolments,
    sessions_possible,
    overall_absence,
    authorised_absence,
    unauthorised_absence,
    overall_absence / NULLIF(CAST(sessions_possible AS DOUBLE), 0) AS overall_absence_rate,
    authorised_absence / NULLIF(CAST(sessions_possible AS DOUBLE), 0) AS authorised_absence_rate,
    unauthorised_absence / NULLIF(CAST(sessions_possible AS DOUBLE), 0) AS unauthorised_absence_rate,
    CASE WHEN sessions_possible > 0 THEN
        CASE WHEN 10 * overall_absence >= sessions_possible THEN 1 ELSE 0 END
    END AS persistent_absence,
    CASE WHEN sessions_possible > 0 THEN
        CASE WHEN 2 * overall_absence >= sessions_possible THEN 1 ELSE 0 END
    END AS severe_absence,
    CASE WHEN academic_year = 2020 THEN 1 ELSE 0 END AS partial_year,
    CASE WHEN academic_year IN (2021, 2022) THEN 1 ELSE 0 END AS code_x_year
FROM stg_absence
WHERE sessions_possible <= 420
