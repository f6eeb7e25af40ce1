-- deferral_change branch: enrolled at Jan 1 with 0 < rate < match ceiling (the rate
-- after any escalation earlier in the year): with the design's probability the rate
-- moves up to the ceiling.
WITH current_rate AS (
    SELECT
        pm.plan_design_id,
        pm.employee_id,
        pm.u_defer,
        COALESCE(esc.deferral_rate, pm.deferral_rate) AS deferral_rate
    FROM plan_members AS pm
    LEFT JOIN escalation AS esc
        ON esc.plan_design_id = pm.plan_design_id AND esc.employee_id = pm.employee_id
    WHERE pm.enrolled AND NOT pm.is_new_hire
)
SELECT
    c.plan_design_id,
    c.employee_id,
    'deferral_change' AS event_type,
    'deferral_change' AS event_category,
    d.deferral_change_date AS event_date,
    CAST(NULL AS INT) AS level_id,
    CAST(NULL AS INT) AS previous_level_id,
    CAST(NULL AS BIGINT) AS compensation_cents,
    CAST(NULL AS BIGINT) AS previous_compensation_cents,
    d.match_ceiling AS deferral_rate,
    c.deferral_rate AS previous_deferral_rate,
    d.deferral_change_rate AS event_probability
FROM current_rate AS c
JOIN plan_designs AS d ON d.plan_design_id = c.plan_design_id
WHERE c.deferral_rate > 0
  AND c.deferral_rate < d.match_ceiling
  AND c.u_defer < d.deferral_change_rate
