-- name: flag_grid
-- grain: pupil x census year (spring census, main registration)
-- params: $census_years, $census_label_starts, $candidates_only
-- depends: stg_census_enrolment, stg_census_dates, flag_social_care, flag_fsm, stg_absence_enrolment
-- compress: yes
-- uncompressed: pupil_id
-- yearly: yes
-- The stored pupil x census grid, as narrow as it can be: each pupil-year's main registration
-- (school, LA, NC year, recorded EVERFSM_6, current-year FSM eligibility and SEN provision), its
-- flags as bits of one integer and its absence sums. flag_pupil_census decodes the bits and
-- cohort_pupil_year assigns the cohort when read (a few integer operations a row), so that the
-- flag and cohort columns are not written and compressed for every pupil-year (at 1M, writing
-- the 27 decoded and assigned columns cost 1.5-1.8 CPU-s per million rows, these 14 1.0-1.1).
-- The main registration is stg_census's (C, then M, then S, then others; ties to the lowest
-- LAESTAB), chosen here over the enrolments kept. It takes its flags and absence sums by one
-- equality join: the two sparse flag tables and the year's absence enrolments are stacked and
-- folded to one row per pupil x year first. The flag bits (flags): 1 CIN episode, 2 CIN plan,
-- 4 CPP, 8 CLA, then x16 for the current ones, 256 derived Ever6 FSM, combined by BIT_OR; the
-- social-care byte (social_care) and the derived Ever6 FSM bit (fsm) are decoded from the flag
-- tables' folded rows (one per pupil and block of years: a byte of social-care bits per year, a
-- bit per year for FSM) for the years of the pass. sessions_possible and the overall, authorised
-- and unauthorised absence are the year's sessions summed over the pupil's enrolments (null where
-- the pupil has no absence record that year).
-- Yearly: rows of different census years share nothing, so DuckDB builds the table one census
-- year at a time ($census_years and $census_label_starts holding that year); $census_label_starts
-- (the opening texts of the years' labels, '2021' for 2022) reach the census and absence scans,
-- so that one year's pass reads that year's files and is small enough not to spill. The census
-- and absence rows are selected by label_start alone: academic_year is read from the same text,
-- so a second test on it would only parse every row's label again.
-- $candidates_only keeps only the pupil-years that can be treated or comparison for the default
-- comparison (ever6_fsm_not_cwsw): those with a social-care or derived-FSM flag, or an enrolment
-- recorded EVERFSM_6 = 1 (a superset: the rest are all excluded as not_fsm_not_cwsw, about 70% of
-- pupil-years). The enrolments and absence of the others are dropped by a semi-join before the
-- main registration is chosen and the absence summed, so that the window, fold and write see
-- those rows only. The semi-join compares a 64-bit hash of pupil and year, HASH(pupil_id, year),
-- not the 16-character PMR and the year: a hash table of integers is cheaper to build and probe
-- (at 1M pupils, 15% fewer instructions per pass). A collision can only keep a pupil-year that is
-- not a candidate, which is then excluded as not_fsm_not_cwsw like any other; it never drops one.
-- The main registration and the absence sums are still matched on the PMR itself. Enrolments
-- without a PMR are not kept (HASH(NULL) is a number, hence the guard). The probe's key is
-- computed in a subquery: written inside the EXISTS, DuckDB plans a delim join twice as costly.
-- (Semi-joining the absence to the main registrations kept instead, a CTE read twice, left
-- Spark 4.3 waiting forever in the parity tests.) The entry points set it when no
-- table they write needs every pupil-year (not for the cohort table, keep_excluded or comparison
-- not_cwsw); attrition and cov_la_bands count every pupil-year from stg_census, not from the
-- grid. Each source is read by two branches, of which the parameter empties one, so that neither
-- run pays for the other's join.
WITH social_care AS (
    SELECT s.pupil_id, d.academic_year AS census_year,
           (s.flags >> (8 * (d.academic_year - s.first_year))) & 255 AS flags
    FROM flag_social_care AS s
    JOIN stg_census_dates AS d
        ON d.census_term = 'SPR' AND ARRAY_CONTAINS($census_years, d.academic_year)
       AND d.academic_year BETWEEN s.first_year AND s.first_year + 6
    WHERE (s.flags >> (8 * (d.academic_year - s.first_year))) & 255 <> 0
),
fsm AS (
    SELECT f.pupil_id, d.academic_year AS census_year
    FROM flag_fsm AS f
    JOIN stg_census_dates AS d
        ON d.census_term = 'SPR' AND ARRAY_CONTAINS($census_years, d.academic_year)
       AND d.academic_year BETWEEN f.first_year AND f.first_year + 55
    WHERE (f.cohort_years >> (d.academic_year - f.first_year)) & 1 = 1
),
candidates AS (
    SELECT HASH(pupil_id, census_year) AS candidate_key FROM social_care
    WHERE $candidates_only
    UNION ALL
    SELECT HASH(pupil_id, census_year) FROM fsm
    WHERE $candidates_only
    UNION ALL
    SELECT HASH(pupil_id, academic_year) FROM stg_census_enrolment
    WHERE $candidates_only AND everfsm_6 = 1 AND pupil_id IS NOT NULL
      AND ARRAY_CONTAINS($census_label_starts, label_start)
),
enrolments AS (
    SELECT *, NULL AS candidate_key FROM stg_census_enrolment
    WHERE NOT $candidates_only AND ARRAY_CONTAINS($census_label_starts, label_start)
    UNION ALL
    SELECT * FROM (
        SELECT *, HASH(pupil_id, academic_year) AS candidate_key FROM stg_census_enrolment
        WHERE $candidates_only AND pupil_id IS NOT NULL AND ARRAY_CONTAINS($census_label_starts, label_start)
    ) AS e
    WHERE EXISTS (SELECT 1 FROM candidates AS c WHERE c.candidate_key = e.candidate_key)
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
    SELECT *, NULL AS candidate_key FROM stg_absence_enrolment
    WHERE NOT $candidates_only AND ARRAY_CONTAINS($census_label_starts, label_start)
    UNION ALL
    SELECT * FROM (
        SELECT *, HASH(pupil_id, academic_year) AS candidate_key FROM stg_absence_enrolment
        WHERE $candidates_only AND pupil_id IS NOT NULL AND ARRAY_CONTAINS($census_label_starts, label_start)
    ) AS a
    WHERE EXISTS (SELECT 1 FROM candidates AS c WHERE c.candidate_key = a.candidate_key)
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
)
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
    COALESCE(f.flags, 0) AS flags,
    f.sessions_possible,
    f.overall_absence,
    f.authorised_absence,
    f.unauthorised_absence
FROM census AS s
JOIN stg_census_dates AS d
    ON d.census_term = 'SPR' AND d.academic_year = s.academic_year
LEFT JOIN folded AS f
    ON f.pupil_id = s.pupil_id AND f.census_year = s.academic_year
