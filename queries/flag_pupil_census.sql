-- name: flag_pupil_census
-- grain: pupil x census year (spring census, main registration)
-- params: $census_years, $definition
-- depends: stg_census, stg_census_dates, flag_social_care, flag_fsm
-- materialise: inline
-- Flags per definitions.md. The window length L is the $lookback_years of flag_social_care; the
-- columns are named ever_* here and labelled ever{L}_* by the Python entry points.
-- $definition 'episode' counts CIN episodes, 'plan' counts CIN plans instead; both variants of
-- ever_cwsw are kept so that runs can report how much they differ. fsm_eligible and sen_provision
-- are the census's current-year values (FSMeligible, SEN provision N/K/E).
-- Inline: the grid is stored once, as cohort_pupil_census, which reads this model as a CTE.
WITH flags AS (
    -- the two sparse flag tables stacked and folded to one row per pupil x year, so that the
    -- census grid is probed once
    SELECT
        pupil_id,
        census_year,
        MAX(ever6_fsm_derived) AS ever6_fsm_derived,
        MAX(ever_cin_episode) AS ever_cin_episode,
        MAX(ever_cin_plan) AS ever_cin_plan,
        MAX(ever_cpp) AS ever_cpp,
        MAX(ever_cla) AS ever_cla,
        MAX(current_cin_episode) AS current_cin_episode,
        MAX(current_cin_plan) AS current_cin_plan,
        MAX(current_cpp) AS current_cpp,
        MAX(current_cla) AS current_cla
    FROM (
        SELECT pupil_id, census_year, 0 AS ever6_fsm_derived, ever_cin_episode, ever_cin_plan, ever_cpp, ever_cla,
               current_cin_episode, current_cin_plan, current_cpp, current_cla
        FROM flag_social_care
        UNION ALL
        SELECT pupil_id, census_year, ever6_fsm_derived, 0, 0, 0, 0, 0, 0, 0, 0
        FROM flag_fsm
    ) AS stacked
    GROUP BY pupil_id, census_year
),
grid AS (
    SELECT
        s.pupil_id,
        s.academic_year AS census_year,
        d.census_date,
        s.la,
        s.school_id,
        s.year_group AS nc_year,
        s.everfsm_6 AS ever6_fsm_recorded,
        s.fsm_eligible,
        s.sen_provision,
        COALESCE(f.ever6_fsm_derived, 0) AS ever6_fsm_derived,
        COALESCE(f.ever_cin_episode, 0) AS ever_cin_episode,
        COALESCE(f.ever_cin_plan, 0) AS ever_cin_plan,
        COALESCE(f.ever_cpp, 0) AS ever_cpp,
        COALESCE(f.ever_cla, 0) AS ever_cla,
        COALESCE(f.current_cin_episode, 0) AS current_cin_episode,
        COALESCE(f.current_cin_plan, 0) AS current_cin_plan,
        COALESCE(f.current_cpp, 0) AS current_cpp,
        COALESCE(f.current_cla, 0) AS current_cla
    FROM stg_census AS s
    JOIN stg_census_dates AS d
        ON d.census_term = 'SPR' AND d.academic_year = s.academic_year
    LEFT JOIN flags AS f
        ON f.pupil_id = s.pupil_id AND f.census_year = s.academic_year
    WHERE ARRAY_CONTAINS($census_years, s.academic_year)
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
    sen_provision
FROM chosen
