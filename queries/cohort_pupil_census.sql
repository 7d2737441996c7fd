-- name: cohort_pupil_census
-- grain: pupil x census year (spring census, main registration)
-- params: none
-- depends: cohort_pupil_year
-- materialise: inline
-- The cohort: flags, `cohort` ('treated' / 'comparison' / 'excluded'), `treated` (1 / 0 / null) and
-- `exclusion_reason` per pupil x census year; cohort_pupil_year without its absence sums.
SELECT
    pupil_id,
    census_year,
    census_date,
    la,
    school_id,
    nc_year,
    ever_cin,
    ever_cpp,
    ever_cla,
    ever_cwsw,
    current_cwsw,
    highest_level,
    ever_cwsw_episode,
    ever_cwsw_plan,
    cwsw_definition,
    ever6_fsm,
    ever6_fsm_recorded,
    ever6_fsm_derived,
    fsm_eligible,
    sen_provision,
    exclusion_reason,
    cohort,
    treated
FROM cohort_pupil_year
