-- merit branch: tenure >= 1; rate = merit[level] x performance + cola, applied to pay
-- after any promotion this year (and at the promoted level). Performance from u_merit:
-- the tier whose [u_lo, u_hi) holds it, found through merit_cells (an equi-join on the draw's
-- cell, then one comparison with the tier boundary inside the cell, if any).
SELECT
    -- what merit is the last to read is not passed on
    p.* EXCLUDE (merit_rate, promoted_merit_rate, u_merit, cola, merit_date, promoted),
    CASE WHEN p.tenure >= 1 THEN p.merit_date END AS merit_on,
    CASE WHEN p.tenure >= 1
         THEN CAST(floor(COALESCE(p.promotion_compensation_cents, p.compensation_cents)
                         * (1 + CASE WHEN p.promoted THEN p.promoted_merit_rate ELSE p.merit_rate END
                                * CASE WHEN p.u_merit < mc.boundary THEN mc.multiplier_below
                                       ELSE mc.multiplier END
                            + p.cola) + 0.5) AS BIGINT) END
        AS merit_compensation_cents
FROM merit_cells AS mc  -- the small side first, so that DataFusion builds its hash table from it
JOIN promotion AS p ON mc.cell = CAST(floor(COALESCE(p.u_merit, 0.0) * $merit_cell_count) AS BIGINT)
