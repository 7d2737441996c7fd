-- name: stg_census_enrolment
-- grain: enrolment (pupil x school x academic year, spring census)
-- params: none
-- depends: spring_census
-- materialise: view
-- One row per spring-census enrolment, renamed and cast; legacy codes mapped (Gender B/G -> M/F;
-- SENprovision A/P -> K and S -> E). label_start is the text that opens the AcademicYear label
-- ('2021' for 2021/2022 or 2021/22): a filter on it reaches the parquet scan, where a file's
-- statistics rule the file out, which a filter on the parsed integer year cannot.
-- registration_rank orders the enrolments of a pupil-year for the main registration (stg_census):
-- EnrolStatus C (1) before M (2) before S (3) before any other code (4), then the lowest LAESTAB.
SELECT
    PupilMatchingRefAnonymous AS pupil_id,
    CAST(SUBSTRING(AcademicYear, 1, 4) AS INTEGER) + 1 AS academic_year,
    SUBSTRING(AcademicYear, 1, 4) AS label_start,
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
