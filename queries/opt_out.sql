-- opt_out branch: after an auto-enrollment, with p = opt_out_rate x age multiplier,
-- dated min(AE date + window, Dec 31); the rate goes back to 0.
SELECT
    e.plan_design_id,
    e.employee_id,
    'opt_out' AS event_type,
    'opt_out' AS event_category,
    least(e.event_date + d.opt_out_window_days, $year_end) AS event_date,
    CAST(NULL AS INT) AS level_id,
    CAST(NULL AS INT) AS previous_level_id,
    CAST(NULL AS BIGINT) AS compensation_cents,
    CAST(NULL AS BIGINT) AS previous_compensation_cents,
    CAST(0.0 AS DOUBLE) AS deferral_rate,
    e.deferral_rate AS previous_deferral_rate,
    least(1.0, d.opt_out_rate * oa.mult) AS event_probability
FROM enrollment AS e
JOIN plan_members AS pm ON pm.plan_design_id = e.plan_design_id AND pm.employee_id = e.employee_id
JOIN plan_designs AS d ON d.plan_design_id = e.plan_design_id
JOIN opt_out_ages AS oa
    ON oa.plan_design_id = e.plan_design_id
   AND oa.years = least(pm.age, $band_top)
WHERE e.event_category = 'auto_enrollment'
  AND pm.u_opt_out < d.opt_out_rate * oa.mult
