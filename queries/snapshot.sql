-- snapshot: the workforce and plan state at the end of the year, one row per plan design
-- and employee active at any time in the year: the state the member's last event shows.
-- Its actives are next year's cohort; they carry a scheduled termination date only while
-- it is still in the future. (member_ix, design_rank and path place the row; the writer drops them.)
WITH rated AS (
    -- enrollment and opt-out happen only to the unenrolled, escalation and deferral change
    -- only to the enrolled, and escalation comes first: the latest change is found by precedence
    SELECT
        y.*,
        CASE WHEN y.opt_out_on IS NOT NULL THEN 0.0
             WHEN y.enrollment_on IS NOT NULL THEN y.enrollment_deferral_rate
             WHEN y.deferral_change_on IS NOT NULL THEN y.deferral_change_deferral_rate
             WHEN y.escalation_on IS NOT NULL THEN y.escalation_deferral_rate
             ELSE y.deferral_rate END AS end_rate
    FROM member_year AS y
)
SELECT
    m.member_ix,
    m.design_rank,
    m.path,
    m.scenario_id,
    m.plan_design_id,
    m.employee_id,
    CASE WHEN m.termination_on IS NULL THEN 'active' ELSE 'terminated' END AS status,
    m.hire_date,
    m.birth_date,
    m.termination_on AS termination_date,
    CASE WHEN m.termination_on IS NULL AND m.scheduled_termination_date > cal.year_end
         THEN m.scheduled_termination_date END AS scheduled_termination_date,
    CAST(CASE WHEN m.promotion_on IS NOT NULL THEN m.promotion_level_id ELSE m.level_id END AS INT) AS level_id,
    -- merit applies after promotion
    CASE WHEN m.merit_on IS NOT NULL THEN m.merit_compensation_cents
         WHEN m.promotion_on IS NOT NULL THEN m.promotion_compensation_cents
         ELSE m.compensation_cents END AS compensation_cents,
    m.end_rate AS deferral_rate,
    m.end_rate > 0 AS enrolled,
    COALESCE(m.enrollment_on, m.enrollment_date) AS enrollment_date,
    m.opted_out OR m.opt_out_on IS NOT NULL AS opted_out,
    m.auto_escalation_opt_out,
    m.eligibility_override,
    m.eligibility_date,
    m.scheduled_hours_per_week  -- kept only when a design requires hours of service
FROM calendar AS cal CROSS JOIN rated AS m
