-- timeline: one row per plan design and employee with events this year. An employee has
-- at most one event of each type a year, so the year pivots into one `moment` and one
-- value per type; event_seq and the state as of any event follow from comparing moments,
-- without window functions (which DataFusion runs slowly over a million small partitions).
-- It carries the employee's Jan-1 state and attributes, so events need no other join,
-- and the year-end state the snapshot takes (the state shown on the last event, which
-- a test checks): merit pay after promotion pay, and an opt-out ends any enrollment.
WITH per_type AS (
SELECT
    e.plan_design_id,
    e.employee_id,
    COUNT(*) AS n_events,
    max(CASE WHEN e.event_type = 'hire' THEN e.moment END) AS hire_at,
    max(CASE WHEN e.event_type = 'eligibility' THEN e.moment END) AS eligibility_at,
    max(CASE WHEN e.event_type = 'promotion' THEN e.moment END) AS promotion_at,
    max(CASE WHEN e.event_type = 'promotion' THEN e.level_id END) AS promoted_level_id,
    max(CASE WHEN e.event_type = 'promotion' THEN e.compensation_cents END) AS promoted_pay_cents,
    max(CASE WHEN e.event_type = 'merit' THEN e.moment END) AS merit_at,
    max(CASE WHEN e.event_type = 'merit' THEN e.compensation_cents END) AS merit_pay_cents,
    max(CASE WHEN e.event_type = 'escalation' THEN e.moment END) AS escalation_at,
    max(CASE WHEN e.event_type = 'escalation' THEN e.deferral_rate END) AS escalated_rate,
    max(CASE WHEN e.event_type = 'deferral_change' THEN e.moment END) AS deferral_change_at,
    max(CASE WHEN e.event_type = 'deferral_change' THEN e.deferral_rate END) AS changed_rate,
    max(CASE WHEN e.event_type = 'enrollment' THEN e.moment END) AS enrollment_at,
    max(CASE WHEN e.event_type = 'enrollment' THEN e.event_date END) AS enrollment_date,
    max(CASE WHEN e.event_type = 'enrollment' THEN e.deferral_rate END) AS enrolled_rate,
    max(CASE WHEN e.event_type = 'opt_out' THEN e.moment END) AS opt_out_at,
    max(CASE WHEN e.event_type = 'termination' THEN e.moment END) AS termination_at,
    max(CASE WHEN e.event_type = 'termination' THEN e.event_date END) AS termination_date
FROM year_events AS e
GROUP BY e.plan_design_id, e.employee_id
)
SELECT
    p.*,
    pm.plan_design_key,
    pm.employee_key,
    pm.level_id AS base_level_id,
    pm.compensation_cents AS base_pay_cents,
    pm.deferral_rate AS base_rate,
    pm.age,
    pm.tenure,
    pm.age_band,
    pm.tenure_band,
    COALESCE(p.promoted_level_id, pm.level_id) AS end_level_id,
    COALESCE(p.merit_pay_cents, p.promoted_pay_cents, pm.compensation_cents) AS end_pay_cents,
    CASE WHEN p.opt_out_at IS NOT NULL THEN 0.0
         ELSE COALESCE(p.enrolled_rate, p.changed_rate, p.escalated_rate, pm.deferral_rate) END AS end_rate
FROM per_type AS p
JOIN plan_members AS pm ON pm.plan_design_id = p.plan_design_id AND pm.employee_id = p.employee_id
