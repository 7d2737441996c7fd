-- name: stg_census
-- grain: pupil x academic year (spring census, main registration)
-- params: none
-- depends: stg_census_enrolment
-- materialise: view
-- One row per pupil and year from the spring census: the main registration of each pupil-year
-- (stg_census_enrolment: C before M before S before any other code, then the lowest LAESTAB). The window partitions by label_start as well
-- as academic_year (they name the same year), so that a filter on either is applied before it and
-- one on label_start reaches the parquet scan.
WITH ranked AS (
    SELECT
        stg_census_enrolment.*,
        ROW_NUMBER() OVER (PARTITION BY pupil_id, academic_year, label_start ORDER BY registration_rank, school_id) AS registration_order,
        COUNT(*) OVER (PARTITION BY pupil_id, academic_year, label_start) AS registrations
    FROM stg_census_enrolment
)
SELECT
    pupil_id, academic_year, label_start, la, school_id, enrol_status, registrations, year_group,
    month_of_birth, year_of_birth, sex, ethnicity_major, first_language, sen_provision,
    fsm_eligible, everfsm_6, idaci_score
FROM ranked
WHERE registration_order = 1
