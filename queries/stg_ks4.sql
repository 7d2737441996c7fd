-- name: stg_ks4
-- grain: pupil (latest KS4 record)
-- params: none
-- depends: ks4
-- materialise: view
-- Progress 8 is set to null where it was not published: 2020 and 2021 (no exams) and 2025 and
-- 2026 (those cohorts sat no KS2 tests, in 2020 and 2021). The grading regime follows the year.
WITH ranked AS (
    SELECT
        KS4_PupilMatchingRefAnonymous AS pupil_id,
        CAST(SUBSTRING(KS4_ACADYR, 1, 4) AS INTEGER) + 1 AS ks4_year,
        CAST(KS4_LA AS INTEGER) AS ks4_la,
        CAST(KS4_LAESTAB AS BIGINT) AS ks4_school_id,
        CAST(KS4_ATT8 AS DOUBLE) AS att8,
        CAST(KS4_P8SCORE AS DOUBLE) AS p8_recorded,
        CAST(KS4_L2BASICS_94 AS INTEGER) AS em94,
        CAST(KS4_L2BASICS_95 AS INTEGER) AS em95,
        CAST(KS4_EBACC_E_PTQ_EE AS INTEGER) AS ebacc_entry,
        ROW_NUMBER() OVER (
            PARTITION BY KS4_PupilMatchingRefAnonymous
            ORDER BY CAST(SUBSTRING(KS4_ACADYR, 1, 4) AS INTEGER) DESC
        ) AS record_order
    FROM ks4
)
SELECT
    pupil_id,
    ks4_year,
    ks4_la,
    ks4_school_id,
    att8,
    CASE WHEN ks4_year IN (2020, 2021, 2025, 2026) THEN NULL ELSE p8_recorded END AS p8,
    em94,
    em95,
    ebacc_entry,
    CASE
        WHEN ks4_year = 2020 THEN 'cag'
        WHEN ks4_year = 2021 THEN 'tag'
        WHEN ks4_year = 2022 THEN 'transition'
        ELSE 'exam'
    END AS grading_regime
FROM ranked
WHERE record_order = 1
