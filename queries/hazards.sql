-- hazards: every combination of level and whole years of age and tenure with
-- its bands and what the rules look up by them: the termination weight, the promotion
-- probability, and the merit rate at the level and at the level above (after a promotion). The cohort looks all of them up in one
-- equi-join. Years stop where the last band starts (every later year has the same bands),
-- which keeps the table small. One set of rows per variant of the batch (scenarios: its
-- promotion base rate).
SELECT
    s.variant,
    l.level_id,
    ab.years AS age_years,
    tb.years AS tenure_years,
    ab.band AS age_band,
    tb.band AS tenure_band,
    tb.termination_mult * ab.termination_mult * l.termination_mult AS termination_weight,
    least(1.0, s.promotion_base_rate * tb.promotion_mult * ab.promotion_mult * l.promotion_mult) AS promotion_p,
    l.merit_rate,
    up.merit_rate AS promoted_merit_rate
FROM scenarios AS s
CROSS JOIN levels AS l
LEFT JOIN levels AS up ON up.level_id = l.level_id + 1
CROSS JOIN age_bands AS ab
CROSS JOIN tenure_bands AS tb
WHERE ab.years <= $age_band_top AND tb.years <= $tenure_band_top
