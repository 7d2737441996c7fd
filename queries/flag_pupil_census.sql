-- name: flag_pupil_census
-- grain: pupil x census year (spring census, main registration)
-- params: $definition
-- depends: flag_grid
-- materialise: inline
-- Flags per definitions.md, decoded from the stored grid's bits (flag_grid) where they are
-- read. The window length L is the $lookback_years of flag_social_care; the columns are named
-- ever_* here and labelled ever{L}_* by the Python entry points. $definition 'episode' counts CIN
-- episodes, 'plan' counts CIN plans instead; both variants of ever_cwsw are kept so that runs can
-- report how much they differ. fsm_eligible and sen_provision are the census's current-year
-- values (FSMeligible, SEN provision N/K/E) of the main registration; the absence sums are the
-- grid's.
WITH grid AS (
    SELECT
        pupil_id,
        census_year,
        census_date,
        la,
        school_id,
        nc_year,
        ever6_fsm_recorded,
        fsm_eligible,
        sen_provision,
        CAST((flags >> 8) & 1 AS INTEGER) AS ever6_fsm_derived,
        CAST(flags & 1 AS INTEGER) AS ever_cin_episode,
        CAST((flags >> 1) & 1 AS INTEGER) AS ever_cin_plan,
        CAST((flags >> 2) & 1 AS INTEGER) AS ever_cpp,
        CAST((flags >> 3) & 1 AS INTEGER) AS ever_cla,
        CAST((flags >> 4) & 1 AS INTEGER) AS current_cin_episode,
        CAST((flags >> 5) & 1 AS INTEGER) AS current_cin_plan,
        CAST((flags >> 6) & 1 AS INTEGER) AS current_cpp,
        CAST((flags >> 7) & 1 AS INTEGER) AS current_cla,
        sessions_possible,
        overall_absence,
        authorised_absence,
        unauthorised_absence
    FROM flag_grid
),
chosen AS (
    SELECT
        grid.*,
        CASE WHEN $definition = 'plan' THEN ever_cin_plan ELSE ever_cin_episode END AS ever_cin,
        CASE WHEN $definition = 'plan' THEN current_cin_plan ELSE current_cin_episode END AS current_cin,
        CASE WHEN ever_cin_episode = 1 OR ever_cpp = 1 OR ever_cla = 1 THEN 1 ELSE 0 END AS ever_cwsw_episode,
        CASE WHEN ever_cin_plan = 1 OR ever_cpp = 1 OR ever_cla = 1 THEN 1 ELSE 0 END AS ever_cwsw_plan
    FROM grid
)
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
    CASE WHEN ever_cin = 1 OR ever_cpp = 1 OR ever_cla = 1 THEN 1 ELSE 0 END AS ever_cwsw,
    CASE WHEN current_cin = 1 OR current_cpp = 1 OR current_cla = 1 THEN 1 ELSE 0 END AS current_cwsw,
    CASE
        WHEN ever_cla = 1 THEN 'CLA'
        WHEN ever_cpp = 1 THEN 'CPP'
        WHEN ever_cin = 1 THEN 'CIN'
    END AS highest_level,
    ever_cwsw_episode,
    ever_cwsw_plan,
    $definition AS cwsw_definition,
    COALESCE(ever6_fsm_recorded, ever6_fsm_derived) AS ever6_fsm,
    ever6_fsm_recorded,
    ever6_fsm_derived,
    fsm_eligible,
    sen_provision,
    sessions_possible,
    overall_absence,
    authorised_absence,
    unauthorised_absence
FROM chosen
