-- merit branch: tenure >= 1; rate = merit[level] x performance + cola, applied to pay
-- after any promotion this year (and at the promoted level). Performance from u_merit.
WITH current_pay AS (
    SELECT
        r.employee_id,
        r.u_merit,
        COALESCE(p.level_id, r.level_id) AS level_id,
        COALESCE(p.compensation_cents, r.compensation_cents) AS compensation_cents
    FROM rng AS r
    LEFT JOIN promotion AS p ON p.employee_id = r.employee_id
    WHERE r.tenure >= 1
)
SELECT
    c.employee_id,
    'merit' AS event_type,
    'merit_raise' AS event_category,
    $merit_date AS event_date,
    CAST(c.level_id AS INT) AS level_id,
    CAST(NULL AS INT) AS previous_level_id,
    CAST(floor(c.compensation_cents * (1 + l.merit_rate * mp.multiplier + $cola) + 0.5) AS BIGINT)
        AS compensation_cents,
    c.compensation_cents AS previous_compensation_cents,
    CAST(NULL AS DOUBLE) AS deferral_rate,
    CAST(NULL AS DOUBLE) AS previous_deferral_rate,
    CAST(NULL AS DOUBLE) AS event_probability
FROM current_pay AS c
JOIN levels AS l ON l.level_id = c.level_id
JOIN merit_performance AS mp ON c.u_merit >= mp.u_lo AND c.u_merit < mp.u_hi
