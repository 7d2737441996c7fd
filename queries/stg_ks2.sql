-- name: stg_ks2
-- grain: pupil (latest KS2 record)
-- params: none
-- depends: ks2
-- materialise: view
-- Each pupil's KS2 scores from their latest KS2 year. Two integer MAXes over the records, no sort
-- or window: read_key (mat_key) = year x 2^33 + the score + 2^31 + 1 (0 for a null score), which
-- holds any INTEGER score exactly, so the year dominates and the score is read back from the
-- remainder (nationally 3.1 CPU-s against 9.4 for the window DuckDB planned as an arg_max of row
-- positions and a re-scan). Two records in the latest year (a duplicate): each score is the
-- highest recorded that year, null only where both are null.
WITH records AS (
    SELECT
        KS2_PupilMatchingRefAnonymous AS pupil_id,
        CAST(CAST(SUBSTRING(KS2_ACADYR, 1, 4) AS INTEGER) + 1 AS BIGINT) * 8589934592 AS year_key,
        CAST(KS2_READSCORE AS INTEGER) AS ks2_read_score,
        CAST(KS2_MATSCORE AS INTEGER) AS ks2_mat_score
    FROM ks2
),
latest AS (
    SELECT
        pupil_id,
        MAX(year_key + COALESCE(ks2_read_score + 2147483649, 0)) AS read_key,
        MAX(year_key + COALESCE(ks2_mat_score + 2147483649, 0)) AS mat_key
    FROM records
    GROUP BY pupil_id
)
SELECT
    pupil_id,
    CAST(read_key // 8589934592 AS INTEGER) AS ks2_year,
    CAST(NULLIF(read_key % 8589934592, 0) - 2147483649 AS INTEGER) AS ks2_read_score,
    CAST(NULLIF(mat_key % 8589934592, 0) - 2147483649 AS INTEGER) AS ks2_mat_score
FROM latest
