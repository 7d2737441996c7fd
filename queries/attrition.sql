-- name: attrition
-- grain: step x stage x cohort x detail x LA x year (counts; LA is the school's, or the returning LA for CIN/CLA)
-- params: $census_years
-- depends: spring_census, cin, cla_episodes, stg_census, stg_cin, stg_cla, stg_absence, cohort_pupil_census
-- Counts after each filter, in pipeline order. Census and cohort rows are for the cohort years;
-- CIN/CLA rows are for every collection year (the look-back reaches before the cohort years);
-- rows without a pupil matching reference cannot be linked and are counted by LA and year.
-- Pupil-years excluded as not_fsm_not_cwsw are counted as every main registration (stg_census)
-- less the cohort's other rows: the stored grid may hold only the pupil-years that can be
-- treated or comparison.
WITH main_registrations AS (
    SELECT la, academic_year, COUNT(*) AS n
    FROM stg_census
    WHERE ARRAY_CONTAINS($census_years, academic_year)
    GROUP BY la, academic_year
)
SELECT 1 AS step, 'spring_census_rows' AS stage, CAST(NULL AS VARCHAR) AS cohort, CAST(NULL AS VARCHAR) AS detail,
       CAST(LA AS INTEGER) AS la, CAST(SUBSTRING(AcademicYear, 1, 4) AS INTEGER) + 1 AS year, COUNT(*) AS n
FROM spring_census
WHERE ARRAY_CONTAINS($census_years, CAST(SUBSTRING(AcademicYear, 1, 4) AS INTEGER) + 1)
GROUP BY CAST(LA AS INTEGER), CAST(SUBSTRING(AcademicYear, 1, 4) AS INTEGER) + 1
UNION ALL
SELECT 2, 'census_pupils_main_registration', NULL, NULL, la, academic_year, n
FROM main_registrations
UNION ALL
SELECT 3, 'cin_rows', NULL, NULL, CAST(CIN_LA AS INTEGER), CAST(SUBSTRING(CIN_ACADYR, 1, 4) AS INTEGER) + 1, COUNT(*)
FROM cin
GROUP BY CAST(CIN_LA AS INTEGER), CAST(SUBSTRING(CIN_ACADYR, 1, 4) AS INTEGER) + 1
UNION ALL
SELECT 4, 'cin_rows_without_pmr', NULL, NULL, CAST(CIN_LA AS INTEGER), CAST(SUBSTRING(CIN_ACADYR, 1, 4) AS INTEGER) + 1, COUNT(*)
FROM cin
WHERE CIN_PupilMatchingRefAnonymous IS NULL
GROUP BY CAST(CIN_LA AS INTEGER), CAST(SUBSTRING(CIN_ACADYR, 1, 4) AS INTEGER) + 1
UNION ALL
SELECT 5, 'cin_intervals', NULL, kind, la, last_collection_year, COUNT(*)
FROM stg_cin
GROUP BY kind, la, last_collection_year
UNION ALL
SELECT 6, 'cin_episodes_without_pmr', NULL, NULL, la, last_collection_year, COUNT(*)
FROM stg_cin
WHERE kind = 'cin' AND pupil_id IS NULL
GROUP BY la, last_collection_year
UNION ALL
SELECT 7, 'cin_episodes_nfa', NULL, NULL, la, last_collection_year, COUNT(*)
FROM stg_cin
WHERE kind = 'cin' AND referral_nfa = 1
GROUP BY la, last_collection_year
UNION ALL
SELECT 8, 'cin_episodes_not_in_need_rc8', NULL, NULL, la, last_collection_year, COUNT(*)
FROM stg_cin
WHERE kind = 'cin' AND not_in_need = 1
GROUP BY la, last_collection_year
UNION ALL
SELECT 9, 'cla_rows', NULL, NULL, CAST(CLA_LA AS INTEGER), CAST(SUBSTRING(CLA_ACADYR, 1, 4) AS INTEGER) + 1, COUNT(*)
FROM cla_episodes
GROUP BY CAST(CLA_LA AS INTEGER), CAST(SUBSTRING(CLA_ACADYR, 1, 4) AS INTEGER) + 1
UNION ALL
SELECT 10, 'cla_rows_without_pmr', NULL, NULL, CAST(CLA_LA AS INTEGER), CAST(SUBSTRING(CLA_ACADYR, 1, 4) AS INTEGER) + 1, COUNT(*)
FROM cla_episodes
WHERE CLA_PupilMatchingRefAnonymous IS NULL
GROUP BY CAST(CLA_LA AS INTEGER), CAST(SUBSTRING(CLA_ACADYR, 1, 4) AS INTEGER) + 1
UNION ALL
SELECT 11, 'cla_episodes', NULL, NULL, la, last_collection_year, COUNT(*)
FROM stg_cla
GROUP BY la, last_collection_year
UNION ALL
SELECT 12, 'cla_episodes_short_breaks', NULL, NULL, la, last_collection_year, COUNT(*)
FROM stg_cla
WHERE short_break = 1
GROUP BY la, last_collection_year
UNION ALL
SELECT 13, 'absence_pupil_years', NULL, NULL, NULL, academic_year, COUNT(*)
FROM stg_absence
WHERE ARRAY_CONTAINS($census_years, academic_year)
GROUP BY academic_year
UNION ALL
SELECT 14, 'absence_over_420_dropped', NULL, NULL, NULL, academic_year, COUNT(*)
FROM stg_absence
WHERE sessions_possible > 420 AND ARRAY_CONTAINS($census_years, academic_year)
GROUP BY academic_year
UNION ALL
SELECT 15, 'cwsw_definitions_disagree', NULL,
       CASE WHEN ever_cwsw_episode = 1 THEN 'episode_only' ELSE 'plan_only' END, la, census_year, COUNT(*)
FROM cohort_pupil_census
WHERE ever_cwsw_episode <> ever_cwsw_plan
GROUP BY CASE WHEN ever_cwsw_episode = 1 THEN 'episode_only' ELSE 'plan_only' END, la, census_year
UNION ALL
SELECT 16, 'cohort', cohort, exclusion_reason, la, census_year, COUNT(*)
FROM cohort_pupil_census
WHERE exclusion_reason IS NULL OR exclusion_reason <> 'not_fsm_not_cwsw'
GROUP BY cohort, exclusion_reason, la, census_year
UNION ALL
SELECT 16, 'cohort', 'excluded', 'not_fsm_not_cwsw', la, year, CAST(SUM(n) AS BIGINT)
FROM (
    SELECT la, academic_year AS year, n
    FROM main_registrations
    UNION ALL
    SELECT la, census_year, -COUNT(*)
    FROM cohort_pupil_census
    WHERE exclusion_reason IS NULL OR exclusion_reason <> 'not_fsm_not_cwsw'
    GROUP BY la, census_year
) AS pupil_years
GROUP BY la, year
HAVING SUM(n) > 0
