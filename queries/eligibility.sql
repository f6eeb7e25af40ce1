-- eligibility branch: an event in the year the eligibility date falls in
-- (none for those already eligible at Jan 1, none when the override says never).
SELECT
    pm.plan_design_id,
    pm.employee_id,
    'eligibility' AS event_type,
    'eligibility' AS event_category,
    pm.eligibility_date AS event_date,
    CAST(NULL AS INT) AS level_id,
    CAST(NULL AS INT) AS previous_level_id,
    CAST(NULL AS BIGINT) AS compensation_cents,
    CAST(NULL AS BIGINT) AS previous_compensation_cents,
    CAST(NULL AS DOUBLE) AS deferral_rate,
    CAST(NULL AS DOUBLE) AS previous_deferral_rate,
    CAST(NULL AS DOUBLE) AS event_probability
FROM plan_members AS pm
WHERE pm.eligibility_date BETWEEN $year_start AND $year_end
