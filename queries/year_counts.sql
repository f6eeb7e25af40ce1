-- year_counts: the exact workforce arithmetic of docs/model.md §4, one row per path, over the
-- path's whole Jan-1 cohort (a global step: every shard of the year reads its numbers).
-- Scheduled terminations (this year's known leavers, from the census) count toward the
-- experienced terminations: the netting starts from the larger of the rate's count and
-- the scheduled count, so when the scheduled exceed it the hires make up the difference
-- and N - experienced_terms + hires - new_hire_terms = target still holds.
-- Rates are decimal fractions held in float64: the 1e-9 guards keep floor/ceil/round
-- from flipping on representation error (0.29 * 100 = 28.999999999999996).
WITH counted AS (
    SELECT
        r.path,
        COUNT(*) AS n_active,
        COUNT(*) FILTER (WHERE r.hired_last_year) AS n_prior_hires,
        COUNT(*) FILTER (WHERE r.scheduled_this_year) AS scheduled_terms
    FROM cohort_t AS r
    GROUP BY r.path
),
base AS (
    -- every path, one whose workforce is gone included
    SELECT
        p.path,
        COALESCE(c.n_active, 0) AS n_active,
        COALESCE(c.n_prior_hires, 0) AS n_prior_hires,
        COALESCE(c.scheduled_terms, 0) AS scheduled_terms,
        s.growth, s.termination_rate, s.new_hire_termination_rate
    FROM paths AS p
    JOIN scenarios AS s ON s.variant = p.variant
    LEFT JOIN counted AS c ON c.path = p.path
),
solved AS (
    SELECT
        b.path,
        b.n_active,
        b.n_prior_hires,
        b.scheduled_terms,
        b.new_hire_termination_rate,
        CAST(floor(b.n_active * (1 + b.growth) + 0.5 + 1e-9) AS BIGINT) AS target,
        CAST(floor((b.n_active - b.n_prior_hires) * b.termination_rate
                   + b.n_prior_hires * b.new_hire_termination_rate + 1e-9) AS BIGINT) AS base_terms
    FROM base AS b
),
quota AS (
    SELECT *, greatest(base_terms, scheduled_terms) AS quota_terms FROM solved
),
netted AS (
    SELECT *, target - (n_active - quota_terms) AS net FROM quota
),
hired AS (
    SELECT
        *,
        CASE WHEN net <= 0 THEN CAST(0 AS BIGINT)
             ELSE CAST(ceil(net / (1 - new_hire_termination_rate) - 1e-9) AS BIGINT) END AS hires
    FROM netted
)
SELECT
    path,
    n_active,
    n_prior_hires,
    target,
    scheduled_terms,
    CASE WHEN net <= 0 THEN quota_terms - net ELSE quota_terms END AS experienced_terms,
    CASE WHEN net <= 0 THEN quota_terms - net ELSE quota_terms END - scheduled_terms AS drawn_terms,
    hires,
    CASE WHEN net <= 0 THEN CAST(0 AS BIGINT) ELSE hires - net END AS new_hire_terms
FROM hired
