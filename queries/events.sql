-- events: the year partition. Each employee's events numbered in `moment` order (date,
-- then the contract's type order); level, pay and deferral rate shown as of each event.
-- Pay: merit applies after promotion. Rates: enrollment and opt-out happen only to the
-- unenrolled, escalation and deferral change only to the enrolled, and the config keeps
-- escalation before deferral change, so the latest change is found by precedence.
WITH numbered AS (
    SELECT
        e.*,
        -- one event per type and year, so the sequence number counts the earlier moments
        CAST(1
             + CASE WHEN t.hire_at < e.moment THEN 1 ELSE 0 END
             + CASE WHEN t.eligibility_at < e.moment THEN 1 ELSE 0 END
             + CASE WHEN t.enrollment_at < e.moment THEN 1 ELSE 0 END
             + CASE WHEN t.opt_out_at < e.moment THEN 1 ELSE 0 END
             + CASE WHEN t.escalation_at < e.moment THEN 1 ELSE 0 END
             + CASE WHEN t.deferral_change_at < e.moment THEN 1 ELSE 0 END
             + CASE WHEN t.promotion_at < e.moment THEN 1 ELSE 0 END
             + CASE WHEN t.merit_at < e.moment THEN 1 ELSE 0 END
             + CASE WHEN t.termination_at < e.moment THEN 1 ELSE 0 END AS INT) AS event_seq,
        CASE WHEN t.promotion_at <= e.moment THEN t.promoted_level_id ELSE t.base_level_id END AS level_now,
        CASE WHEN t.merit_at <= e.moment THEN t.merit_pay_cents
             WHEN t.promotion_at <= e.moment THEN t.promoted_pay_cents
             ELSE t.base_pay_cents END AS pay_now_cents,
        CASE WHEN t.opt_out_at <= e.moment THEN 0.0
             WHEN t.enrollment_at <= e.moment THEN t.enrolled_rate
             WHEN t.deferral_change_at <= e.moment THEN t.changed_rate
             WHEN t.escalation_at <= e.moment THEN t.escalated_rate
             ELSE t.base_rate END AS rate_now,
        t.plan_design_key,
        t.employee_key,
        t.age,
        t.tenure,
        t.age_band,
        t.tenure_band
    FROM year_events AS e
    JOIN timeline AS t ON t.plan_design_id = e.plan_design_id AND t.employee_id = e.employee_id
)
SELECT
    event_id($scenario_key, n.plan_design_key, n.employee_key, $sim_year, n.event_seq) AS event_id,
    $scenario_id AS scenario_id,
    n.plan_design_id,
    n.employee_id,
    CAST($sim_year AS INT) AS simulation_year,
    n.event_type,
    n.event_category,
    n.event_seq,
    n.event_date,
    CAST(n.level_now AS INT) AS level_id,
    n.previous_level_id,
    n.pay_now_cents AS compensation_cents,
    n.previous_compensation_cents,
    n.rate_now AS deferral_rate,
    n.previous_deferral_rate,
    n.event_probability,
    CAST(n.age AS INT) AS employee_age,
    CAST(n.tenure AS INT) AS tenure_years,
    n.age_band,
    n.tenure_band
FROM numbered AS n
ORDER BY employee_id, plan_design_id, event_seq
