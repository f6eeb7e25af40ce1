-- rng: the cohort with what its rules look up by level, age and tenure (hazards: the bands,
-- the termination weight, the promotion probability, the merit rates) and every draw it
-- needs this year, computed once per employee and stream: all start from the employee's
-- draw_key (its key, the year and its path's seed mixed once; udfs.hash_rng). With them the key
-- of the weighted sampling of experienced terminations: key = -ln(u_term) / weight, the
-- smallest keys leave, ties by employee_id (the global step's termination_cutoff marks the
-- last one drawn). Those scheduled to leave this year are not drawn: no key.
WITH keyed AS (
    SELECT
        c.*,
        h.age_band,
        h.tenure_band,
        h.termination_weight,
        h.promotion_p,
        h.merit_rate,
        h.promoted_merit_rate,
        employee_key(c.employee_id) AS employee_key
    FROM hazards AS h  -- the small side first, so that DataFusion builds its hash table from it
    JOIN cohort_t AS c
        ON h.variant = c.variant
       AND h.level_id = c.level_id
       AND h.age_years = least(c.age, $age_band_top)
       AND h.tenure_years = least(c.tenure, $tenure_band_top)
),
drawing AS (
    SELECT k.*, draw_key(k.employee_key, k.sim_year, k.seed) AS draw_key FROM keyed AS k
)
SELECT
    k.* EXCLUDE (seed, sim_year, termination_weight, hired_last_year),  -- not read after
    CASE WHEN NOT k.scheduled_this_year
         THEN -ln(draw(k.draw_key, 'term')) / k.termination_weight END AS sample_key,
    draw(k.draw_key, 'promo') AS u_promo,
    draw(k.draw_key, 'promo_raise') AS u_promo_raise,
    draw(k.draw_key, 'merit') AS u_merit,
    draw(k.draw_key, 'enroll') AS u_enroll,
    draw(k.draw_key, 'enroll_date') AS u_enroll_date,
    draw(k.draw_key, 'opt_out') AS u_opt_out,
    draw(k.draw_key, 'defer') AS u_defer
FROM drawing AS k
