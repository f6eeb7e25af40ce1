-- eligibility branch: an event in the year the eligibility date falls in
-- (none for those already eligible at Jan 1, none when the override says never).
SELECT
    pm.*,
    CASE WHEN pm.eligibility_date BETWEEN pm.year_start AND pm.year_end THEN pm.eligibility_date END AS eligibility_on
FROM plan_members AS pm
