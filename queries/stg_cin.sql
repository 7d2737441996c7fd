-- name: stg_cin
-- grain: CIN interval (kind 'cin' episode, 'cpp' child protection plan, 'cin_plan') x LA x child x start date
-- params: none
-- depends: cin
-- CIN returns repeat an open episode in every collection year. Each interval is kept once, keyed
-- by LA, child id, kind and start date, with the values of the latest return (closure date,
-- reason, NFA flag); within one return, an open (null) end counts as the latest end. The PMR
-- is the latest return's, or any PMR another return of the same interval carries.
WITH returns AS (
    SELECT
        CIN_PupilMatchingRefAnonymous AS pupil_id,
        CIN_LAchildID_Anon AS child_id,
        CAST(CIN_LA AS INTEGER) AS la,
        CAST(SUBSTRING(CIN_ACADYR, 1, 4) AS INTEGER) + 1 AS collection_year,
        CAST(CIN_ReferralDate AS DATE) AS referral_date,
        CAST(CIN_CINClosureDate AS DATE) AS closure_date,
        CIN_ReasonForClosure AS closure_reason,
        COALESCE(CAST(CIN_ReferralNFA AS INTEGER), 0) AS referral_nfa,
        CAST(CIN_CPPstartDate AS DATE) AS cpp_start,
        CAST(CIN_CPPendDate AS DATE) AS cpp_end,
        CAST(CIN_CINPlanStartDate AS DATE) AS plan_start,
        CAST(CIN_CINPlanEndDate AS DATE) AS plan_end
    FROM cin
),
intervals AS (
    SELECT 'cin' AS kind, pupil_id, child_id, la, collection_year, referral_date AS start_date,
           closure_date AS end_date, closure_reason, referral_nfa
    FROM returns
    UNION ALL
    SELECT 'cpp', pupil_id, child_id, la, collection_year, cpp_start, cpp_end, closure_reason, referral_nfa
    FROM returns WHERE cpp_start IS NOT NULL
    UNION ALL
    SELECT 'cin_plan', pupil_id, child_id, la, collection_year, plan_start, plan_end, closure_reason, referral_nfa
    FROM returns WHERE plan_start IS NOT NULL
),
ranked AS (
    SELECT
        intervals.*,
        ROW_NUMBER() OVER (
            PARTITION BY la, child_id, kind, start_date
            ORDER BY collection_year DESC, end_date DESC NULLS FIRST
        ) AS return_order,
        MAX(pupil_id) OVER (PARTITION BY la, child_id, kind, start_date) AS any_pupil_id,
        MIN(collection_year) OVER (PARTITION BY la, child_id, kind, start_date) AS first_collection_year,
        COUNT(*) OVER (PARTITION BY la, child_id, kind, start_date) AS returns_count
    FROM intervals
)
SELECT
    kind,
    COALESCE(pupil_id, any_pupil_id) AS pupil_id,
    la,
    child_id,
    start_date,
    end_date,
    referral_nfa,
    CASE WHEN closure_reason = 'RC8' THEN 1 ELSE 0 END AS not_in_need,
    first_collection_year,
    collection_year AS last_collection_year,
    returns_count
FROM ranked
WHERE return_order = 1
