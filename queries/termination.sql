-- termination branch.
-- Experienced: exactly experienced_terms of the cohort. Those scheduled to leave this year
-- (a known termination date from the census) count toward it and leave on that date,
-- category scheduled_termination. The rest, experienced_terms - scheduled_terms, are drawn
-- from the cohort members not scheduled this year by weighted sampling without replacement
-- (key = -ln(u_term) / weight, smallest keys win, ties by employee_id), dated a uniform day
-- of the year.
-- New hire: exactly new_hire_terms of this year's hires dated before Dec 31, those with
-- the smallest u_nh_term, dated uniformly in (hire_date, Dec 31].
WITH keyed AS (
    SELECT r.employee_id, r.u_term_date, -ln(r.u_term) / r.termination_weight AS sample_key
    FROM rng AS r
    WHERE NOT r.scheduled_this_year
),
experienced AS (
    SELECT k.*, ROW_NUMBER() OVER (ORDER BY k.sample_key, k.employee_id) AS pick
    FROM keyed AS k
),
new_hire AS (
    SELECT
        h.employee_id,
        h.hire_date,
        h.u_nh_term_date,
        ROW_NUMBER() OVER (ORDER BY h.u_nh_term, h.employee_id) AS pick
    FROM hire AS h
    WHERE h.hire_date < $year_end
)
SELECT
    e.employee_id,
    'termination' AS event_type,
    'experienced_termination' AS event_category,
    CAST($year_start AS DATE) + CAST(floor(e.u_term_date * $days_in_year) AS INT) AS event_date,
    CAST(NULL AS INT) AS level_id,
    CAST(NULL AS INT) AS previous_level_id,
    CAST(NULL AS BIGINT) AS compensation_cents,
    CAST(NULL AS BIGINT) AS previous_compensation_cents,
    CAST(NULL AS DOUBLE) AS deferral_rate,
    CAST(NULL AS DOUBLE) AS previous_deferral_rate,
    CAST(NULL AS DOUBLE) AS event_probability
FROM experienced AS e
WHERE e.pick <= $experienced_terms - $scheduled_terms
UNION ALL
SELECT
    r.employee_id,
    'termination',
    'scheduled_termination',
    r.scheduled_termination_date,
    CAST(NULL AS INT),
    CAST(NULL AS INT),
    CAST(NULL AS BIGINT),
    CAST(NULL AS BIGINT),
    CAST(NULL AS DOUBLE),
    CAST(NULL AS DOUBLE),
    CAST(NULL AS DOUBLE)
FROM rng AS r
WHERE r.scheduled_this_year
UNION ALL
SELECT
    n.employee_id,
    'termination',
    'new_hire_termination',
    n.hire_date + CAST(1 + floor(n.u_nh_term_date
        * CAST(CAST($year_end AS DATE) - n.hire_date AS BIGINT)) AS INT),
    CAST(NULL AS INT),
    CAST(NULL AS INT),
    CAST(NULL AS BIGINT),
    CAST(NULL AS BIGINT),
    CAST(NULL AS DOUBLE),
    CAST(NULL AS DOUBLE),
    CAST(NULL AS DOUBLE)
FROM new_hire AS n
WHERE n.pick <= $new_hire_terms
