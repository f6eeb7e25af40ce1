-- eligibility branch: an event in the year the eligibility date falls in
-- (none for those already eligible at Jan 1, none when the override says never).
SELECT
    pm.*,
    CASE WHEN pm.eligibility_date BETWEEN cal.year_start AND cal.year_end THEN pm.eligibility_date END AS eligibility_on
FROM calendar AS cal CROSS JOIN plan_members AS pm
