-- name: cov_la_bands
-- grain: local authority (of the school) at the baseline census
-- params: $baseline_year
-- depends: stg_census_baseline, cohort_pupil_census
-- Number of Ever-L CWSW pupils on the baseline spring census by the LA of their school, and the
-- rate per 10,000 pupils on roll in that LA's schools at the same census (the extracts carry no
-- child population, so pupils on roll stand in for "children"; see cohort-sql.md). Pupils on roll
-- are counted from stg_census_baseline (the stored grid may hold only the pupil-years that can be treated
-- or comparison), the CWSW pupils from the grid; stacked and summed by LA, so that a null LA is
-- one group as before.
-- Bands (definitions.md): number small <= 4,000 < medium <= 9,000 < large;
-- rate small <= 400 < medium <= 800 < large (non-integer rates: 400.5 is medium).
WITH counts AS (
    SELECT
        la,
        CAST(SUM(cwsw) AS BIGINT) AS la_cwsw_count,
        CAST(SUM(pupils) AS BIGINT) AS la_pupils
    FROM (
        SELECT la, 0 AS cwsw, 1 AS pupils
        FROM stg_census_baseline
        UNION ALL
        SELECT la, 1, 0
        FROM cohort_pupil_census
        WHERE census_year = $baseline_year AND ever_cwsw = 1
    ) AS stacked
    GROUP BY la
)
SELECT
    la,
    la_cwsw_count,
    la_pupils,
    10000.0 * la_cwsw_count / la_pupils AS la_cwsw_rate,
    CASE
        WHEN la_cwsw_count <= 4000 THEN 'small'
        WHEN la_cwsw_count <= 9000 THEN 'medium'
        ELSE 'large'
    END AS la_band_number,
    CASE
        WHEN 10000.0 * la_cwsw_count / la_pupils <= 400 THEN 'small'
        WHEN 10000.0 * la_cwsw_count / la_pupils <= 800 THEN 'medium'
        ELSE 'large'
    END AS la_band_rate
FROM counts
