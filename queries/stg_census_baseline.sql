-- name: stg_census_baseline
-- grain: pupil (spring census of the baseline year, main registration)
-- params: $baseline_year
-- depends: stg_census_enrolment
-- materialise: inline
-- stg_census for the baseline year alone, the same rows and columns, for the models that read one
-- census whole (cov_baseline, cov_la_bands). The main registration is chosen by the same order (C,
-- then M, then S, then others; ties to the lowest LAESTAB), but only among the pupils with more
-- than one enrolment (about 2.5% of pupils): the others' one enrolment is their main registration,
-- so that the window sorts a few hundred thousand rows, not the whole census (nationally, 5.2-5.6
-- CPU-s against 8.8-11.4 for stg_census's window, same rows). Pupil ids are matched with IS NOT
-- DISTINCT FROM so that enrolments without one are treated as one pupil, as stg_census's window
-- does. Both filters (the year and its label's opening text) are written here, not left to the
-- reader: DuckDB does not carry a reader's filter through the NOT EXISTS into `multiple`.
WITH enrolments AS (
    SELECT *
    FROM stg_census_enrolment
    WHERE academic_year = $baseline_year AND label_start = CAST($baseline_year - 1 AS VARCHAR)
),
multiple AS (
    SELECT pupil_id, COUNT(*) AS registrations
    FROM enrolments
    GROUP BY pupil_id
    HAVING COUNT(*) > 1
),
ranked AS (
    SELECT
        e.*,
        m.registrations,
        ROW_NUMBER() OVER (PARTITION BY e.pupil_id ORDER BY e.registration_rank, e.school_id) AS registration_order
    FROM enrolments AS e
    JOIN multiple AS m
        ON m.pupil_id IS NOT DISTINCT FROM e.pupil_id
)
SELECT
    pupil_id, academic_year, label_start, la, school_id, enrol_status, 1 AS registrations, year_group,
    month_of_birth, year_of_birth, sex, ethnicity_major, first_language, sen_provision,
    fsm_eligible, everfsm_6, idaci_score
FROM enrolments AS e
WHERE NOT EXISTS (SELECT 1 FROM multiple AS m WHERE m.pupil_id IS NOT DISTINCT FROM e.pupil_id)
UNION ALL
SELECT
    pupil_id, academic_year, label_start, la, school_id, enrol_status, registrations, year_group,
    month_of_birth, year_of_birth, sex, ethnicity_major, first_language, sen_provision,
    fsm_eligible, everfsm_6, idaci_score
FROM ranked
WHERE registration_order = 1
