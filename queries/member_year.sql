-- member_year: each plan design and member with every branch's outcome, as the year happens:
-- an event dated after the member's termination does not happen (its date is cleared).
-- The events are emitted from these columns (arrow_events.emit), in the contract's order:
-- <type>_on is the event's date (NULL: no event), <type>_category its category where the
-- type has several, <type>_probability its probability, and <type>_level_id,
-- _compensation_cents and _deferral_rate the state it sets. level_id, compensation_cents
-- and deferral_rate are the state at Jan 1 (a hire's at hiring). The year-end snapshot
-- reads the same row.
WITH cut AS (
    SELECT d.*, COALESCE(d.termination_on, d.year_end) AS last_day FROM deferral_change AS d
)
SELECT
    c.member_ix, c.design_rank, c.path, c.variant, c.scenario_id, c.scenario_key,
    c.plan_design_id, c.plan_design_key, c.employee_id, c.employee_key,
    c.age, c.tenure, c.age_band, c.tenure_band,
    c.level_id, c.compensation_cents, c.deferral_rate,
    c.hire_date, c.birth_date, c.scheduled_termination_date, c.enrollment_date, c.opted_out,
    c.auto_escalation_opt_out, c.eligibility_override, c.eligibility_date,
    CASE WHEN c.is_new_hire THEN c.hire_date END AS hire_on,
    CASE WHEN c.eligibility_on <= c.last_day THEN c.eligibility_on END AS eligibility_on,
    CASE WHEN c.enrollment_on <= c.last_day THEN c.enrollment_on END AS enrollment_on,
    c.enrollment_category, c.enrollment_deferral_rate, c.enrollment_probability,
    CASE WHEN c.opt_out_on <= c.last_day THEN c.opt_out_on END AS opt_out_on,
    c.opt_out_deferral_rate, c.opt_out_probability,
    CASE WHEN c.escalation_on <= c.last_day THEN c.escalation_on END AS escalation_on,
    c.escalation_deferral_rate,
    CASE WHEN c.deferral_change_on <= c.last_day THEN c.deferral_change_on END AS deferral_change_on,
    c.deferral_change_deferral_rate, c.deferral_change_probability,
    CASE WHEN c.promotion_on <= c.last_day THEN c.promotion_on END AS promotion_on,
    c.promotion_level_id, c.promotion_compensation_cents, c.promotion_probability,
    CASE WHEN c.merit_on <= c.last_day THEN c.merit_on END AS merit_on,
    c.merit_compensation_cents,
    c.termination_on, c.termination_category,
    -- hours of service credited in the year: the scheduled week (hires and a census without it: the
    -- standard week) over the days employed, to 6 decimals (docs/model.md §7)
    round(COALESCE(c.scheduled_hours_per_week, $standard_weekly_hours)
          * CAST(CAST(c.last_day - greatest(c.hire_date, c.year_start) AS BIGINT) + 1 AS DOUBLE) / 7,
          6) AS hours_worked,
    COALESCE(c.scheduled_hours_per_week, $standard_weekly_hours) AS scheduled_hours_per_week
FROM cut AS c
