-- name: out_exclusions
-- grain: pupil x academic year (pupils with at least one exclusion)
-- params: none
-- depends: stg_exclusions
-- materialise: view
-- Suspensions are FIXD rows; permanent exclusions PERM rows; lunchtime exclusions (LNCH) are
-- reported separately by DfE and are not counted here.
SELECT
    pupil_id,
    academic_year,
    MAX(CASE WHEN category = 'FIXD' THEN 1 ELSE 0 END) AS any_suspension,
    CAST(SUM(CASE WHEN category = 'FIXD' THEN 1 ELSE 0 END) AS INTEGER) AS suspensions,
    CAST(SUM(CASE WHEN category = 'FIXD' THEN COALESCE(sessions, 0) ELSE 0 END) AS DOUBLE) AS suspension_sessions,
    MAX(CASE WHEN category = 'PERM' THEN 1 ELSE 0 END) AS permanent_exclusion
FROM stg_exclusions
GROUP BY pupil_id, academic_year
