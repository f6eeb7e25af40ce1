-- snapshot: the workforce and plan state at the end of the year, one row per plan design
-- and employee active at any time in the year. Every change of state is an event, so the
-- year-end state is the state shown on the employee's last event. Its actives are next
-- year's cohort.
WITH last_event AS (
    SELECT e.plan_design_id, e.employee_id, e.level_id, e.compensation_cents, e.deferral_rate
    FROM events AS e
    JOIN timeline AS t
        ON t.plan_design_id = e.plan_design_id AND t.employee_id = e.employee_id
       AND e.event_seq = t.n_events
)
SELECT
    $scenario_id AS scenario_id,
    pm.plan_design_id,
    pm.employee_id,
    CAST($sim_year AS INT) AS simulation_year,
    CASE WHEN t.termination_date IS NULL THEN 'active' ELSE 'terminated' END AS status,
    pm.hire_date,
    pm.birth_date,
    t.termination_date,
    CAST(COALESCE(l.level_id, pm.level_id) AS INT) AS level_id,
    COALESCE(l.compensation_cents, pm.compensation_cents) AS compensation_cents,
    COALESCE(l.deferral_rate, pm.deferral_rate) AS deferral_rate,
    COALESCE(l.deferral_rate, pm.deferral_rate) > 0 AS enrolled,
    COALESCE(t.enrollment_date, pm.enrollment_date) AS enrollment_date,
    pm.opted_out OR t.opt_out_at IS NOT NULL AS opted_out,
    pm.auto_escalation_opt_out,
    pm.eligibility_override,
    pm.eligibility_date
FROM plan_members AS pm
LEFT JOIN timeline AS t ON t.plan_design_id = pm.plan_design_id AND t.employee_id = pm.employee_id
LEFT JOIN last_event AS l ON l.plan_design_id = pm.plan_design_id AND l.employee_id = pm.employee_id
ORDER BY plan_design_id, employee_id
