-- promotion branch: level < max, tenure >= 1, age below the cut-off; promoted when
-- u_promo < p. One level up; pay x (1 + raise + spread (2 u - 1)), at most + cap.
WITH decided AS (
    SELECT
        m.*,
        m.level_id < $max_level AND m.tenure >= 1 AND m.age < m.promotion_max_age
            AND m.u_promo < m.promotion_p AS promoted
    FROM members AS m
)
SELECT
    -- what promotion alone reads is not passed on
    d.* EXCLUDE (promotion_p, u_promo, u_promo_raise, promotion_date, promotion_raise, promotion_raise_spread,
                 promotion_raise_cap, promotion_max_age),
    CASE WHEN d.promoted THEN d.promotion_date END AS promotion_on,
    CASE WHEN d.promoted THEN CAST(d.level_id + 1 AS INT) END AS promotion_level_id,
    CASE WHEN d.promoted THEN CAST(floor(d.compensation_cents
        * least(1 + d.promotion_raise_cap,
                1 + d.promotion_raise + d.promotion_raise_spread * (2 * d.u_promo_raise - 1))
        + 0.5) AS BIGINT) END AS promotion_compensation_cents,
    CASE WHEN d.promoted THEN d.promotion_p END AS promotion_probability
FROM decided AS d
