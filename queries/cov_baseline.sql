-- name: cov_baseline
-- grain: pupil (spring census of the baseline year, main registration)
-- params: $baseline_year
-- depends: stg_census_baseline, stg_ks2, stg_absence, flag_fsm, cov_la_bands
-- Pre-treatment characteristics at the baseline census. EAL: first language other than English
-- (OTH/OTB = 1, ENG/ENB = 0, else null). IDACI decile among the baseline pupils, 1 = most
-- deprived tenth (ceil(10 x cume_dist) over descending score; ties share a decile), computed on the
-- distinct scores (pupils with a score at or above each, over all with a score) and joined back,
-- not by sorting every pupil. Prior-year
-- absence: overall absence rate in the academic year before the baseline (null where nothing was
-- possible, or where over 420 sessions were possible, as in the panel); stg_absence is filtered to
-- that one year so that only its absence records are summed. Both years are also selected by
-- the opening text of their labels (label_start), a filter that reaches the parquet statistics,
-- so that only the two years' census and absence files are read. FSM history: the number of spring
-- censuses from five years before the baseline to the baseline (six at most) at which the pupil was
-- recorded FSM-eligible (0 when none; years before the first extract count as not eligible),
-- counted from flag_fsm's spring_years bits (the baseline is one of its census years), as
-- out_ks4's ever6_fsm_years is.
WITH base AS (
    SELECT * FROM stg_census_baseline
),
scores AS (
    SELECT idaci_score, COUNT(*) AS pupils
    FROM base
    WHERE idaci_score IS NOT NULL
    GROUP BY idaci_score
),
idaci AS (
    -- CUME_DIST over the descending score, from the distinct scores (pupils at or above each / all)
    SELECT
        idaci_score,
        CAST(CEIL(10 * (CAST(SUM(pupils) OVER (ORDER BY idaci_score DESC) AS DOUBLE)
                        / CAST(SUM(pupils) OVER () AS DOUBLE))) AS INTEGER) AS idaci_decile
    FROM scores
),
prior_absence AS (
    SELECT pupil_id, overall_absence / NULLIF(CAST(sessions_possible AS DOUBLE), 0) AS overall_absence_rate
    FROM stg_absence
    WHERE academic_year = $baseline_year - 1 AND label_start = CAST($baseline_year - 2 AS VARCHAR)
      AND sessions_possible <= 420
),
fsm_history AS (
    SELECT pupil_id,
           CAST(BIT_COUNT((spring_years >> ($baseline_year - first_year)) & 63) AS INTEGER) AS fsm_history_years
    FROM flag_fsm
    WHERE $baseline_year BETWEEN first_year AND first_year + 55
)
SELECT
    b.pupil_id,
    b.academic_year AS baseline_year,
    b.sex,
    b.ethnicity_major,
    b.sen_provision,
    CASE WHEN b.first_language IN ('OTH', 'OTB') THEN 1 WHEN b.first_language IN ('ENG', 'ENB') THEN 0 END AS eal,
    i.idaci_decile,
    b.month_of_birth,
    b.year_group,
    k.ks2_read_score,
    k.ks2_mat_score,
    CASE WHEN k.ks2_read_score IS NULL THEN 1 ELSE 0 END AS ks2_read_missing,
    CASE WHEN k.ks2_mat_score IS NULL THEN 1 ELSE 0 END AS ks2_mat_missing,
    b.la,
    b.school_id,
    a.overall_absence_rate AS prior_absence_rate,
    CASE WHEN a.overall_absence_rate IS NULL THEN 1 ELSE 0 END AS prior_absence_missing,
    COALESCE(f.fsm_history_years, 0) AS fsm_history_years,
    l.la_cwsw_count,
    l.la_cwsw_rate,
    l.la_band_number,
    l.la_band_rate
FROM base AS b
LEFT JOIN idaci AS i
    ON i.idaci_score = b.idaci_score
LEFT JOIN stg_ks2 AS k
    ON k.pupil_id = b.pupil_id
LEFT JOIN prior_absence AS a
    ON a.pupil_id = b.pupil_id
LEFT JOIN fsm_history AS f
    ON f.pupil_id = b.pupil_id
LEFT JOIN cov_la_bands AS l
    ON l.la = b.la
