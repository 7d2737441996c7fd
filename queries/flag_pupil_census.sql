-- name: flag_pupil_census
-- grain: pupil x census year (spring census, main registration)
-- params: $census_years, $census_label_starts, $definition, $candidates_only
-- depends: stg_census_enrolment, stg_census_dates, flag_social_care, flag_fsm, stg_absence_enrolment
-- materialise: inline
-- Flags per definitions.md. The window length L is the $lookback_years of flag_social_care; the
-- columns are named ever_* here and labelled ever{L}_* by the Python entry points.
-- $definition 'episode' counts CIN episodes, 'plan' counts CIN plans instead; both variants of
-- ever_cwsw are kept so that runs can report how much they differ. fsm_eligible and sen_provision
-- are the census's current-year values (FSMeligible, SEN provision N/K/E) of the main registration.
-- sessions_possible and the overall, authorised and unauthorised absence are the year's sessions
-- summed over the pupil's enrolments (null where the pupil has no absence record that year).
-- The census grid (the main registration of each pupil-year, stg_census) takes its flags and
-- absence sums by one equality join: the two sparse flag tables and the year's absence
-- enrolments are stacked and folded to one row per pupil x year first. The social-care flags
-- travel as bits of one integer (1 CIN episode, 2 CIN plan, 4 CPP, 8 CLA, then x16 for the
-- current ones, 256 derived Ever6 FSM), combined by BIT_OR. Inline: the grid is stored once, as
-- cohort_pupil_year, built a year at a time; $census_label_starts (the opening texts of the
-- years' labels, '2021' for 2022) reach the census and absence scans, so that one year's pass
-- reads that year's files.
-- $candidates_only keeps only the pupil-years that can be treated or comparison for the default
-- comparison (ever6_fsm_not_cwsw): those with a social-care or derived-FSM flag, or an enrolment
-- recorded EVERFSM_6 = 1 (a superset: the rest are all excluded as not_fsm_not_cwsw, about 70% of
-- pupil-years). The enrolments and absence of the others are dropped by a semi-join before the
-- main registration is chosen and the absence summed, so that the window, fold and write see
-- those rows only. The entry points set it when no table they write needs every pupil-year
-- (not for the cohort table, keep_excluded or comparison not_cwsw); attrition and cov_la_bands
-- count every pupil-year from stg_census, not from the grid. Each source is read by two branches,
-- of which the parameter empties one, so that neither run pays for the other's join.
-- The main registration is stg_census's (C, then M, then S, then others; ties to the lowest
-- LAESTAB), chosen here over the enrolments kept. The social-care flags (social_care) and derived
-- Ever6 FSM (fsm) are decoded here, for the years of the pass, from the flag tables' folded rows
-- (one per pupil and block of years: a byte of social-care bits per year, a bit per year for FSM).
WITH social_care AS (
    SELECT s.pupil_id, d.academic_year AS census_year,
           MOD(s.flags // CAST(POWER(256, d.academic_year - s.first_year) AS BIGINT), 256) AS flags
    FROM flag_social_care AS s
    JOIN stg_census_dates AS d
        ON d.census_term = 'SPR' AND ARRAY_CONTAINS($census_years, d.academic_year)
       AND d.academic_year BETWEEN s.first_year AND s.first_year + 6
    WHERE MOD(s.flags // CAST(POWER(256, d.academic_year - s.first_year) AS BIGINT), 256) <> 0
),
fsm AS (
    SELECT f.pupil_id, d.academic_year AS census_year
    FROM flag_fsm AS f
    JOIN stg_census_dates AS d
        ON d.census_term = 'SPR' AND ARRAY_CONTAINS($census_years, d.academic_year)
       AND d.academic_year BETWEEN f.first_year AND f.first_year + 59
    WHERE MOD(f.cohort_years // CAST(POWER(2, d.academic_year - f.first_year) AS BIGINT), 2) = 1
),
candidates AS (
    SELECT pupil_id, census_year FROM social_care
    WHERE $candidates_only
    UNION ALL
    SELECT pupil_id, census_year FROM fsm
    WHERE $candidates_only
    UNION ALL
    SELECT pupil_id, academic_year FROM stg_census_enrolment
    WHERE $candidates_only AND everfsm_6 = 1
      AND ARRAY_CONTAINS($census_years, academic_year) AND ARRAY_CONTAINS($census_label_starts, label_start)
),
enrolments AS (
    SELECT * FROM stg_census_enrolment
    WHERE NOT $candidates_only
      AND ARRAY_CONTAINS($census_years, academic_year) AND ARRAY_CONTAINS($census_label_starts, label_start)
    UNION ALL
    SELECT * FROM stg_census_enrolment AS e
    WHERE $candidates_only
      AND ARRAY_CONTAINS($census_years, academic_year) AND ARRAY_CONTAINS($census_label_starts, label_start)
      AND EXISTS (SELECT 1 FROM candidates AS c WHERE c.pupil_id = e.pupil_id AND c.census_year = e.academic_year)
),
census AS (
    SELECT * FROM (
        SELECT
            enrolments.*,
            ROW_NUMBER() OVER (PARTITION BY pupil_id, academic_year ORDER BY registration_rank, school_id) AS registration_order
        FROM enrolments
    ) AS ranked
    WHERE registration_order = 1
),
absence AS (
    SELECT * FROM stg_absence_enrolment
    WHERE NOT $candidates_only
      AND ARRAY_CONTAINS($census_years, academic_year) AND ARRAY_CONTAINS($census_label_starts, label_start)
    UNION ALL
    SELECT * FROM stg_absence_enrolment AS a
    WHERE $candidates_only
      AND ARRAY_CONTAINS($census_years, academic_year) AND ARRAY_CONTAINS($census_label_starts, label_start)
      AND EXISTS (SELECT 1 FROM candidates AS c WHERE c.pupil_id = a.pupil_id AND c.census_year = a.academic_year)
),
stacked AS (
    SELECT pupil_id, census_year, flags,
           NULL AS sessions_possible, NULL AS overall_absence, NULL AS authorised_absence,
           NULL AS unauthorised_absence
    FROM social_care
    UNION ALL
    SELECT pupil_id, census_year, 256, NULL, NULL, NULL, NULL
    FROM fsm
    UNION ALL
    SELECT pupil_id, academic_year, 0, sessions_possible, overall_absence, authorised_absence, unauthorised_absence
    FROM absence
),
folded AS (
    SELECT
        pupil_id,
        census_year,
        BIT_OR(flags) AS flags,
        CAST(SUM(sessions_possible) AS BIGINT) AS sessions_possible,
        CAST(SUM(overall_absence) AS BIGINT) AS overall_absence,
        CAST(SUM(authorised_absence) AS BIGINT) AS authorised_absence,
        CAST(SUM(unauthorised_absence) AS BIGINT) AS unauthorised_absence
    FROM stacked
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
        CAST(MOD(COALESCE(f.flags, 0) // 256, 2) AS INTEGER) AS ever6_fsm_derived,
        CAST(MOD(COALESCE(f.flags, 0), 2) AS INTEGER) AS ever_cin_episode,
        CAST(MOD(COALESCE(f.flags, 0) // 2, 2) AS INTEGER) AS ever_cin_plan,
        CAST(MOD(COALESCE(f.flags, 0) // 4, 2) AS INTEGER) AS ever_cpp,
        CAST(MOD(COALESCE(f.flags, 0) // 8, 2) AS INTEGER) AS ever_cla,
        CAST(MOD(COALESCE(f.flags, 0) // 16, 2) AS INTEGER) AS current_cin_episode,
        CAST(MOD(COALESCE(f.flags, 0) // 32, 2) AS INTEGER) AS current_cin_plan,
        CAST(MOD(COALESCE(f.flags, 0) // 64, 2) AS INTEGER) AS current_cpp,
        CAST(MOD(COALESCE(f.flags, 0) // 128, 2) AS INTEGER) AS current_cla,
        f.sessions_possible,
        f.overall_absence,
        f.authorised_absence,
        f.unauthorised_absence
    FROM census AS s
    JOIN stg_census_dates AS d
        ON d.census_term = 'SPR' AND d.academic_year = s.academic_year
    LEFT JOIN folded AS f
        ON f.pupil_id = s.pupil_id AND f.census_year = s.academic_year
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
