-- rng: every draw the cohort needs this year, computed once per employee and stream
-- (the termination draws are termination_keys', which the global step reads too).
-- The engine materializes this relation, so the branches share it instead of re-drawing.
SELECT
    c.*,
    hash_rng_key(c.employee_key, $sim_year, 'promo', $seed) AS u_promo,
    hash_rng_key(c.employee_key, $sim_year, 'promo_raise', $seed) AS u_promo_raise,
    hash_rng_key(c.employee_key, $sim_year, 'merit', $seed) AS u_merit,
    hash_rng_key(c.employee_key, $sim_year, 'enroll', $seed) AS u_enroll,
    hash_rng_key(c.employee_key, $sim_year, 'enroll_date', $seed) AS u_enroll_date,
    hash_rng_key(c.employee_key, $sim_year, 'opt_out', $seed) AS u_opt_out,
    hash_rng_key(c.employee_key, $sim_year, 'defer', $seed) AS u_defer
FROM cohort_t AS c
