-- snapshot: the workforce and plan state at the end of the year, one row per plan design
-- and employee active at any time in the year. Its actives are next year's cohort.
WITH year_end_state AS (
    SELECT
        e.plan_design_id,
        e.employee_id,
        last_value(e.level_id ORDER BY e.event_seq) AS level_id,
        last_value(e.compensation_cents ORDER BY e.event_seq) AS compensation_cents,
        last_value(e.deferral_rate ORDER BY e.event_seq) AS deferral_rate,
        max(CASE WHEN e.event_type = 'termination' THEN e.event_date END) AS termination_date,
        max(CASE WHEN e.event_type = 'enrollment' THEN e.event_date END) AS enrollment_date,
        bool_or(e.event_type = 'opt_out') AS opted_out
    FROM events AS e
    GROUP BY e.plan_design_id, e.employee_id
)
SELECT
    $scenario_id AS scenario_id,
    pm.plan_design_id,
    pm.employee_id,
    CAST($sim_year AS INT) AS simulation_year,
    CASE WHEN y.termination_date IS NULL THEN 'active' ELSE 'terminated' END AS status,
    pm.hire_date,
    pm.birth_date,
    y.termination_date,
    CAST(COALESCE(y.level_id, pm.level_id) AS INT) AS level_id,
    COALESCE(y.compensation_cents, pm.compensation_cents) AS compensation_cents,
    COALESCE(y.deferral_rate, pm.deferral_rate) AS deferral_rate,
    COALESCE(y.deferral_rate, pm.deferral_rate) > 0 AS enrolled,
    COALESCE(y.enrollment_date, pm.enrollment_date) AS enrollment_date,
    pm.opted_out OR COALESCE(y.opted_out, false) AS opted_out,
    pm.auto_escalation_opt_out,
    pm.eligibility_override,
    pm.eligibility_date
FROM plan_members AS pm
LEFT JOIN year_end_state AS y
    ON y.plan_design_id = pm.plan_design_id AND y.employee_id = pm.employee_id
ORDER BY plan_design_id, employee_id
