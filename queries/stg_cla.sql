-- name: stg_cla
-- grain: CLA episode x LA x child x episode start (DECOM)
-- params: none
-- depends: cla_episodes
-- SSDA903 returns repeat an open episode in every collection year; each episode is kept once
-- with the latest return's end date, legal status and reason ended (an open end counts as the
-- latest within one return). V3/V4 legal status marks short breaks.
WITH returns AS (
    SELECT
        CLA_PupilMatchingRefAnonymous AS pupil_id,
        CLA_CHILD_ID_Anon AS child_id,
        CAST(CLA_LA AS INTEGER) AS la,
        CAST(SUBSTRING(CLA_ACADYR, 1, 4) AS INTEGER) + 1 AS collection_year,
        CAST(CLA_DECOM AS DATE) AS start_date,
        CAST(CLA_DEC AS DATE) AS end_date,
        CLA_LS AS legal_status,
        CLA_REC AS reason_ended
    FROM cla_episodes
),
ranked AS (
    SELECT
        returns.*,
        ROW_NUMBER() OVER (
            PARTITION BY la, child_id, start_date ORDER BY collection_year DESC, end_date DESC NULLS FIRST
        ) AS return_order,
        MAX(pupil_id) OVER (PARTITION BY la, child_id, start_date) AS any_pupil_id,
        COUNT(*) OVER (PARTITION BY la, child_id, start_date) AS returns_count
    FROM returns
)
SELECT
    COALESCE(pupil_id, any_pupil_id) AS pupil_id,
    la,
    child_id,
    start_date,
    end_date,
    legal_status,
    reason_ended,
    CASE WHEN legal_status IN ('V3', 'V4') THEN 1 ELSE 0 END AS short_break,
    collection_year AS last_collection_year,
    returns_count
FROM ranked
WHERE return_order = 1
