-- termination branch.
-- Experienced: exactly experienced_terms of the cohort. Those scheduled to leave this year
-- (a known termination date from the census) count toward it and leave on that date,
-- category scheduled_termination. The rest, experienced_terms - scheduled_terms, are drawn
-- from the cohort members not scheduled this year by weighted sampling without replacement
-- (termination_keys; the global step's termination_cutoff marks the last one drawn), dated
-- a uniform day of the year.
-- New hire: exactly new_hire_terms of this year's hires dated before Dec 31, those with
-- the smallest u_nh_term (hire.nh_term_pick), dated uniformly in (hire_date, Dec 31].
WITH experienced AS (
    SELECT k.employee_id, hash_rng_key(k.employee_key, $sim_year, 'term_date', $seed) AS u_term_date
    FROM termination_keys AS k
    WHERE k.sample_key < $cutoff_key
       OR (k.sample_key = $cutoff_key AND k.employee_id <= $cutoff_employee_id)
),
new_hire AS (
    SELECT h.employee_id, h.hire_date, h.u_nh_term_date
    FROM hire AS h
    WHERE h.nh_term_pick <= $new_hire_terms
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
-- the other branches name only what they set; BY NAME fills the rest with the first branch's NULLs
UNION ALL BY NAME
SELECT
    r.employee_id,
    'termination' AS event_type,
    'scheduled_termination' AS event_category,
    r.scheduled_termination_date AS event_date
FROM rng AS r
WHERE r.scheduled_this_year
UNION ALL BY NAME
SELECT
    n.employee_id,
    'termination' AS event_type,
    'new_hire_termination' AS event_category,
    n.hire_date + CAST(1 + floor(n.u_nh_term_date
        * CAST(CAST($year_end AS DATE) - n.hire_date AS BIGINT)) AS INT) AS event_date
FROM new_hire AS n
