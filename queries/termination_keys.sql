-- termination_keys: each cohort member's key for the weighted sampling of experienced
-- terminations: key = -ln(u_term) / weight; the smallest keys leave, ties by employee_id.
-- Those scheduled to leave this year are not drawn. Read by the global step (the cutoff)
-- and by each shard (who is drawn).
SELECT
    c.employee_id,
    c.employee_key,
    -ln(hash_rng_key(c.employee_key, $sim_year, 'term', $seed)) / c.termination_weight AS sample_key
FROM cohort_t AS c
WHERE NOT c.scheduled_this_year
