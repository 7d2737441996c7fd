-- name: stg_care_leavers
-- grain: care leaver (LA x child id) x collection year
-- params: none
-- depends: care_leavers
-- materialise: view
-- Activity codes F*/P* are in education, employment or training (EET); G* are not (NEET).
-- EET is null where no activity is recorded (e.g. the LA is not in touch).
SELECT DISTINCT
    CLA_PupilMatchingRefAnonymous AS pupil_id,
    CAST(CLA_LA AS INTEGER) AS la,
    CLA_CHILD_ID_Anon AS child_id,
    CAST(SUBSTRING(CLA_ACADYR, 1, 4) AS INTEGER) + 1 AS collection_year,
    CAST(CLA_AGE AS INTEGER) AS age,
    CLA_IN_TOUCH AS in_touch,
    CLA_ACTIV AS activity,
    CASE
        WHEN CLA_ACTIV LIKE 'F%' OR CLA_ACTIV LIKE 'P%' THEN 1
        WHEN CLA_ACTIV LIKE 'G%' THEN 0
    END AS eet
FROM care_leavers
