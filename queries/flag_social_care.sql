-- name: flag_social_care
-- grain: pupil x block of 7 census years (pupils with at least one social-care interval overlapping a census year's window)
-- params: $census_years, $lookback_years, $include_nfa, $include_not_in_need, $exclude_short_breaks
-- depends: stg_cin, stg_cla, stg_census_dates
-- compress: yes
-- uncompressed: pupil_id
-- Window for census year Y with spring census date c: [c - L years, c] (closed). An interval
-- [s, e] (e null = open) overlaps it when s <= c and coalesce(e, c) >= c - L years; it is
-- current when s <= c <= coalesce(e, c). Intervals are joined to the few census dates (one per
-- year) by that range condition and then aggregated, so the cost grows with intervals x years,
-- never with pupils x intervals. Rows without a PMR cannot be linked and are left out here.
-- Each hit carries its kind and currency as bits of one byte (1 CIN episode, 2 CIN plan, 4 CPP,
-- 8 CLA; x17 sets both the ever and the current bit, the current ones x16), placed in the byte
-- of its census year: byte i of flags is census year first_year + i, in blocks of 7 years from
-- the first census year so that every byte fits a BIGINT. Folded by BIT_OR to one row per pupil
-- and block (one aggregate state per pupil rather than per pupil-year; about a third of the
-- groups and rows), decoded by flag_grid for the years of its pass.
WITH census AS (
    SELECT
        academic_year AS census_year,
        census_date,
        CAST(census_date - $lookback_years * INTERVAL '1' YEAR AS DATE) AS window_start,
        academic_year - MOD(academic_year - MIN(academic_year) OVER (), 7) AS first_year
    FROM stg_census_dates
    WHERE census_term = 'SPR' AND ARRAY_CONTAINS($census_years, academic_year)
),
intervals AS (
    SELECT kind, pupil_id, start_date, end_date
    FROM stg_cin
    WHERE pupil_id IS NOT NULL
      AND (kind <> 'cin' OR (
            ($include_nfa OR referral_nfa = 0)
        AND ($include_not_in_need OR not_in_need = 0)))
    UNION ALL
    SELECT 'cla', pupil_id, start_date, end_date
    FROM stg_cla
    WHERE pupil_id IS NOT NULL AND NOT ($exclude_short_breaks AND short_break = 1)
),
hits AS (
    -- one bit per kind (1 CIN episode, 2 CIN plan, 4 CPP, 8 CLA), x16 when the interval is current,
    -- in the byte of the census year (x 256 per year after the block's first)
    SELECT
        i.pupil_id,
        c.first_year,
        CASE i.kind WHEN 'cin' THEN 1 WHEN 'cin_plan' THEN 2 WHEN 'cpp' THEN 4 WHEN 'cla' THEN 8 ELSE 0 END
            * CASE WHEN COALESCE(i.end_date, c.census_date) >= c.census_date THEN 17 ELSE 1 END
            * CAST(POWER(256, c.census_year - c.first_year) AS BIGINT) AS flags
    FROM intervals AS i
    JOIN census AS c
        ON i.start_date <= c.census_date
       AND COALESCE(i.end_date, c.census_date) >= c.window_start
)
SELECT pupil_id, first_year, BIT_OR(flags) AS flags
FROM hits
GROUP BY pupil_id, first_year
