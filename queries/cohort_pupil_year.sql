-- name: cohort_pupil_year
-- grain: pupil x census year (spring census, main registration)
-- params: $comparison, $exclude_cla, $current_only, $highest_level
-- depends: flag_pupil_census
-- materialise: inline
-- The cohort assignment over the stored grid (flag_grid, decoded by flag_pupil_census),
-- with the year's absence sums, which the attendance panel reads without a join; published
-- without them as cohort_pupil_census. Inline: assigned where it is read, not stored.
-- Treated: ever_cwsw, narrowed by the variants (checked in this order, the first failing one is
-- the reason): $exclude_cla drops ever_cla ('cla_excluded'); $current_only keeps current_cwsw
-- ('not_current_cwsw'); $highest_level keeps one level ('other_highest_level').
-- Comparison: not ever_cwsw and, for 'ever6_fsm_not_cwsw', ever6_fsm ('not_fsm_not_cwsw').
WITH assigned AS (
    SELECT
        flag_pupil_census.*,
        CASE
            WHEN ever_cwsw = 1 THEN
                CASE
                    WHEN $exclude_cla AND ever_cla = 1 THEN 'cla_excluded'
                    WHEN $current_only AND current_cwsw = 0 THEN 'not_current_cwsw'
                    WHEN $highest_level IS NOT NULL AND highest_level <> $highest_level THEN 'other_highest_level'
                END
            WHEN $comparison = 'ever6_fsm_not_cwsw' AND ever6_fsm <> 1 THEN 'not_fsm_not_cwsw'
        END AS exclusion_reason
    FROM flag_pupil_census
)
SELECT
    assigned.*,
    CASE
        WHEN exclusion_reason IS NOT NULL THEN 'excluded'
        WHEN ever_cwsw = 1 THEN 'treated'
        ELSE 'comparison'
    END AS cohort,
    CASE
        WHEN exclusion_reason IS NOT NULL THEN NULL
        WHEN ever_cwsw = 1 THEN 1
        ELSE 0
    END AS treated
FROM assigned
