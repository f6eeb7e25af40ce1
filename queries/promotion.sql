-- promotion branch: level < max, tenure >= 1, age below the cut-off; promoted when
-- u_promo < p. One level up; pay x (1 + raise + spread (2 u - 1)), at most + cap.
SELECT
    r.employee_id,
    'promotion' AS event_type,
    'promotion' AS event_category,
    $promotion_date AS event_date,
    CAST(r.level_id + 1 AS INT) AS level_id,
    CAST(r.level_id AS INT) AS previous_level_id,
    CAST(floor(r.compensation_cents
               * least(1 + $promotion_raise_cap,
                       1 + $promotion_raise + $promotion_raise_spread * (2 * r.u_promo_raise - 1))
               + 0.5) AS BIGINT) AS compensation_cents,
    r.compensation_cents AS previous_compensation_cents,
    CAST(NULL AS DOUBLE) AS deferral_rate,
    CAST(NULL AS DOUBLE) AS previous_deferral_rate,
    r.promotion_p AS event_probability
FROM rng AS r
WHERE r.level_id < $max_level
  AND r.tenure >= 1
  AND r.age < $promotion_max_age
  AND r.u_promo < r.promotion_p
