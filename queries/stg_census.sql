-- name: stg_census
-- grain: pupil x academic year (spring census, main registration)
-- params: none
-- depends: spring_census
-- materialise: view
-- One row per pupil and year from the spring census. Where a pupil has several enrolments
-- (dual registration), the main one is kept: EnrolStatus C before M before S before any other
-- code; ties (same status) go to the lowest LAESTAB so the choice is deterministic.
-- Legacy codes are mapped: Gender B/G -> M/F; SENprovision A/P -> K and S -> E.
WITH raw AS (
    SELECT
        PupilMatchingRefAnonymous AS pupil_id,
        CAST(SUBSTRING(AcademicYear, 1, 4) AS INTEGER) + 1 AS academic_year,
        CAST(LA AS INTEGER) AS la,
        CAST(LAESTAB AS BIGINT) AS school_id,
        EnrolStatus AS enrol_status,
        NCyearActual AS year_group,
        CAST(MonthOfBirth AS INTEGER) AS month_of_birth,
        CAST(YearOfBirth AS INTEGER) AS year_of_birth,
        CASE Gender WHEN 'B' THEN 'M' WHEN 'G' THEN 'F' ELSE Gender END AS sex,
        EthnicGroupMajor AS ethnicity_major,
        FirstLanguage AS first_language,
        CASE SENprovision WHEN 'A' THEN 'K' WHEN 'P' THEN 'K' WHEN 'S' THEN 'E' ELSE SENprovision END AS sen_provision,
        CAST(FSMeligible AS INTEGER) AS fsm_eligible,
        CAST(EVERFSM_6 AS INTEGER) AS everfsm_6,
        CAST(IDACIScore_15 AS DOUBLE) AS idaci_score,
        CASE EnrolStatus WHEN 'C' THEN 1 WHEN 'M' THEN 2 WHEN 'S' THEN 3 ELSE 4 END AS registration_rank
    FROM spring_census
),
ranked AS (
    SELECT
        raw.*,
        ROW_NUMBER() OVER (PARTITION BY pupil_id, academic_year ORDER BY registration_rank, school_id) AS registration_order,
        COUNT(*) OVER (PARTITION BY pupil_id, academic_year) AS registrations
    FROM raw
)
SELECT
    pupil_id, academic_year, la, school_id, enrol_status, registrations, year_group,
    month_of_birth, year_of_birth, sex, ethnicity_major, first_language, sen_provision,
    fsm_eligible, everfsm_6, idaci_score
FROM ranked
WHERE registration_order = 1
