-- rng: every draw the cohort needs this year, computed once per employee and stream,
-- with the key of the weighted sampling of experienced terminations: key = -ln(u_term) / weight,
-- the smallest keys leave, ties by employee_id (the global step's termination_cutoff marks the
-- last one drawn). Those scheduled to leave this year are not drawn: no key.
SELECT
    c.*,
    CASE WHEN NOT c.scheduled_this_year
         THEN -ln(draw(c.draw_key, 'term')) / c.termination_weight END AS sample_key,
    draw(c.draw_key, 'promo') AS u_promo,
    draw(c.draw_key, 'promo_raise') AS u_promo_raise,
    draw(c.draw_key, 'merit') AS u_merit,
    draw(c.draw_key, 'enroll') AS u_enroll,
    draw(c.draw_key, 'enroll_date') AS u_enroll_date,
    draw(c.draw_key, 'opt_out') AS u_opt_out,
    draw(c.draw_key, 'defer') AS u_defer
FROM cohort_t AS c
