-- name: stg_exclusions
-- grain: exclusion (pupil x school x start date x category)
-- params: none
-- depends: exclusions
-- materialise: view
SELECT DISTINCT
    PupilMatchingRefAnonymous AS pupil_id,
    CAST(SUBSTRING(AcademicYear, 1, 4) AS INTEGER) + 1 AS academic_year,
    CAST(LAESTAB AS BIGINT) AS school_id,
    Category AS category,
    CAST(StartDate AS DATE) AS start_date,
    CAST(Sessions AS DOUBLE) AS sessions
FROM exclusions
