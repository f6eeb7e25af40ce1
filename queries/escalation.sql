-- escalation branch: enrolled before Jan 1, not opted out of escalation, 0 < rate < cap:
-- rate = min(cap, rate + step). Rates are kept to 6 decimals (half up) so repeated
-- steps do not accumulate float noise.
SELECT
    pm.plan_design_id,
    pm.employee_id,
    'escalation' AS event_type,
    'auto_escalation' AS event_category,
    d.escalation_date AS event_date,
    CAST(NULL AS INT) AS level_id,
    CAST(NULL AS INT) AS previous_level_id,
    CAST(NULL AS BIGINT) AS compensation_cents,
    CAST(NULL AS BIGINT) AS previous_compensation_cents,
    least(d.escalation_cap, floor((pm.deferral_rate + d.escalation_step) * 1e6 + 0.5) / 1e6) AS deferral_rate,
    pm.deferral_rate AS previous_deferral_rate,
    CAST(NULL AS DOUBLE) AS event_probability
FROM plan_members AS pm
JOIN plan_designs AS d ON d.plan_design_id = pm.plan_design_id
WHERE d.auto_escalation
  AND pm.enrolled
  AND NOT pm.is_new_hire
  AND NOT pm.auto_escalation_opt_out
  AND pm.deferral_rate > 0
  AND pm.deferral_rate < d.escalation_cap
