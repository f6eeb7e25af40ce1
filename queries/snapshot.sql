-- snapshot: the workforce and plan state at the end of the year, one row per plan design
-- and employee active at any time in the year. Its actives are next year's cohort; they
-- carry a scheduled termination date only while it is still in the future.
SELECT
    $scenario_id AS scenario_id,
    pm.plan_design_id,
    pm.employee_id,
    CAST($sim_year AS INT) AS simulation_year,
    CASE WHEN t.termination_date IS NULL THEN 'active' ELSE 'terminated' END AS status,
    pm.hire_date,
    pm.birth_date,
    t.termination_date,
    CASE WHEN t.termination_date IS NULL AND pm.scheduled_termination_date > $year_end
         THEN pm.scheduled_termination_date END AS scheduled_termination_date,
    CAST(COALESCE(t.end_level_id, pm.level_id) AS INT) AS level_id,
    COALESCE(t.end_pay_cents, pm.compensation_cents) AS compensation_cents,
    COALESCE(t.end_rate, pm.deferral_rate) AS deferral_rate,
    COALESCE(t.end_rate, pm.deferral_rate) > 0 AS enrolled,
    COALESCE(t.enrollment_date, pm.enrollment_date) AS enrollment_date,
    pm.opted_out OR t.opt_out_at IS NOT NULL AS opted_out,
    pm.auto_escalation_opt_out,
    pm.eligibility_override,
    pm.eligibility_date
FROM plan_members AS pm
LEFT JOIN timeline AS t ON t.plan_design_id = pm.plan_design_id AND t.employee_id = pm.employee_id
ORDER BY employee_id, plan_design_id
