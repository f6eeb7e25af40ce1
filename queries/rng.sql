-- rng: every draw the cohort needs this year, computed once per employee and stream.
-- The engine materializes this relation, so the branches share it instead of re-drawing.
SELECT
    c.*,
    hash_rng_key(c.employee_key, s.sim_year, 'term', s.seed) AS u_term,
    hash_rng_key(c.employee_key, s.sim_year, 'term_date', s.seed) AS u_term_date,
    hash_rng_key(c.employee_key, s.sim_year, 'promo', s.seed) AS u_promo,
    hash_rng_key(c.employee_key, s.sim_year, 'promo_raise', s.seed) AS u_promo_raise,
    hash_rng_key(c.employee_key, s.sim_year, 'merit', s.seed) AS u_merit,
    hash_rng_key(c.employee_key, s.sim_year, 'enroll', s.seed) AS u_enroll,
    hash_rng_key(c.employee_key, s.sim_year, 'enroll_date', s.seed) AS u_enroll_date,
    hash_rng_key(c.employee_key, s.sim_year, 'opt_out', s.seed) AS u_opt_out,
    hash_rng_key(c.employee_key, s.sim_year, 'defer', s.seed) AS u_defer
FROM cohort_t AS c
CROSS JOIN scenario AS s
