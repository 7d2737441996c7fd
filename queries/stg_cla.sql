-- name: stg_cla
-- grain: CLA episode x LA x child x episode start (DECOM)
-- params: none
-- depends: cla_episodes
-- SSDA903 returns repeat an open episode in every collection year; each episode is kept once
-- with the latest return's end date, legal status and reason ended (an open end counts as the
-- latest within one return). V3/V4 legal status marks short breaks. One aggregation over the
-- key, as in stg_cin: "latest" is the largest latest_key (collection year, then end date with
-- null as 9999-12-31); ARG_MAX_NULL keeps a null legal status or reason of the latest return, and
-- returns without a PMR get a null key so that the PMR is the latest one recorded.
WITH returns AS (
    SELECT
        CLA_PupilMatchingRefAnonymous AS pupil_id,
        CLA_CHILD_ID_Anon AS child_id,
        CAST(CLA_LA AS INTEGER) AS la,
        CAST(SUBSTRING(CLA_ACADYR, 1, 4) AS INTEGER) + 1 AS collection_year,
        CAST(CLA_DECOM AS DATE) AS start_date,
        COALESCE(CAST(CLA_DEC AS DATE), DATE '9999-12-31') AS end_or_open,
        CLA_LS AS legal_status,
        CLA_REC AS reason_ended
    FROM cla_episodes
),
keyed AS (
    SELECT
        returns.*,
        CAST(collection_year AS BIGINT) * 10000000 + DATE_DIFF('day', DATE '1800-01-01', end_or_open) AS latest_key
    FROM returns
),
latest AS (
    SELECT
        la,
        child_id,
        start_date,
        ARG_MAX(pupil_id, CASE WHEN pupil_id IS NOT NULL THEN latest_key END) AS pupil_id,
        ARG_MAX(end_or_open, latest_key) AS end_or_open,
        ARG_MAX_NULL(legal_status, latest_key) AS legal_status,
        ARG_MAX_NULL(reason_ended, latest_key) AS reason_ended,
        MAX(collection_year) AS last_collection_year,
        COUNT(*) AS returns_count
    FROM keyed
    GROUP BY la, child_id, start_date
)
SELECT
    pupil_id,
    la,
    child_id,
    start_date,
    NULLIF(end_or_open, DATE '9999-12-31') AS end_date,
    legal_status,
    reason_ended,
    CASE WHEN legal_status IN ('V3', 'V4') THEN 1 ELSE 0 END AS short_break,
    last_collection_year,
    returns_count
FROM latest
