-- name: stg_cin
-- grain: CIN interval (kind 'cin' episode, 'cpp' child protection plan, 'cin_plan') x LA x child x start date
-- params: none
-- depends: cin
-- compress: no
-- CIN returns repeat an open episode in every collection year. Each interval is kept once, keyed
-- by LA, child id, kind and start date, with the values of the latest return (closure date,
-- reason, NFA flag); within one return, an open (null) end counts as the latest end. The PMR
-- is the latest return's, or else that of the latest return of the same interval carrying one.
-- One aggregation over the key (no sort of whole rows): "latest" is the largest integer
-- latest_key = collection year x 10^7 + days from 1800-01-01 to the end date (null end as
-- 9999-12-31, 2.9M days, so the year always dominates); fixed-size keys keep the aggregate
-- spillable. Returns without a PMR get a null key so that the PMR is the latest one recorded.
-- The latest return's end date, collection year, NFA flag and RC8 flag are read back from one
-- MAX of latest_key x 4 + 2 x NFA + RC8 (both flags 0/1), one aggregate state instead of five
-- (two returns of one year with the same end date: the larger flags, where ARG_MAX took either).
WITH returns AS (
    SELECT
        CIN_PupilMatchingRefAnonymous AS pupil_id,
        CIN_LAchildID_Anon AS child_id,
        CAST(CIN_LA AS INTEGER) AS la,
        CAST(SUBSTRING(CIN_ACADYR, 1, 4) AS INTEGER) + 1 AS collection_year,
        CAST(CIN_ReferralDate AS DATE) AS referral_date,
        CAST(CIN_CINClosureDate AS DATE) AS closure_date,
        CASE WHEN CIN_ReasonForClosure = 'RC8' THEN 1 ELSE 0 END AS not_in_need,
        COALESCE(CAST(CIN_ReferralNFA AS INTEGER), 0) AS referral_nfa,
        CAST(CIN_CPPstartDate AS DATE) AS cpp_start,
        CAST(CIN_CPPendDate AS DATE) AS cpp_end,
        CAST(CIN_CINPlanStartDate AS DATE) AS plan_start,
        CAST(CIN_CINPlanEndDate AS DATE) AS plan_end
    FROM cin
),
stacked AS (
    SELECT 'cin' AS kind, pupil_id, child_id, la, collection_year, referral_date AS start_date,
           COALESCE(closure_date, DATE '9999-12-31') AS end_or_open, not_in_need, referral_nfa
    FROM returns
    UNION ALL
    SELECT 'cpp', pupil_id, child_id, la, collection_year, cpp_start, COALESCE(cpp_end, DATE '9999-12-31'), not_in_need, referral_nfa
    FROM returns WHERE cpp_start IS NOT NULL
    UNION ALL
    SELECT 'cin_plan', pupil_id, child_id, la, collection_year, plan_start, COALESCE(plan_end, DATE '9999-12-31'), not_in_need, referral_nfa
    FROM returns WHERE plan_start IS NOT NULL
),
intervals AS (
    SELECT
        stacked.*,
        CAST(collection_year AS BIGINT) * 10000000 + DATE_DIFF('day', DATE '1800-01-01', end_or_open) AS latest_key
    FROM stacked
),
latest AS (
    SELECT
        kind,
        la,
        child_id,
        start_date,
        ARG_MAX(pupil_id, CASE WHEN pupil_id IS NOT NULL THEN latest_key END) AS pupil_id,
        MAX(latest_key * 4 + 2 * referral_nfa + not_in_need) AS latest,
        MIN(collection_year) AS first_collection_year,
        COUNT(*) AS returns_count
    FROM intervals
    GROUP BY kind, la, child_id, start_date
)
SELECT
    kind,
    pupil_id,
    la,
    child_id,
    start_date,
    NULLIF(DATE '1800-01-01' + CAST(MOD(latest // 4, 10000000) AS INTEGER), DATE '9999-12-31') AS end_date,
    CAST(MOD(latest // 2, 2) AS INTEGER) AS referral_nfa,
    CAST(MOD(latest, 2) AS INTEGER) AS not_in_need,
    first_collection_year,
    CAST(latest // 40000000 AS INTEGER) AS last_collection_year,
    returns_count
FROM latest
