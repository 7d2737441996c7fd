-- name: stg_ks2
-- grain: pupil (latest KS2 record)
-- params: none
-- depends: ks2
-- materialise: view
WITH ranked AS (
    SELECT
        KS2_PupilMatchingRefAnonymous AS pupil_id,
        CAST(SUBSTRING(KS2_ACADYR, 1, 4) AS INTEGER) + 1 AS ks2_year,
        CAST(KS2_READSCORE AS INTEGER) AS ks2_read_score,
        CAST(KS2_MATSCORE AS INTEGER) AS ks2_mat_score,
        ROW_NUMBER() OVER (
            PARTITION BY KS2_PupilMatchingRefAnonymous
            ORDER BY CAST(SUBSTRING(KS2_ACADYR, 1, 4) AS INTEGER) DESC
        ) AS record_order
    FROM ks2
)
SELECT pupil_id, ks2_year, ks2_read_score, ks2_mat_score
FROM ranked
WHERE record_order = 1
