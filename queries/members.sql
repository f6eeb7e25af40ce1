-- members: everyone employed at some point this year: the Jan-1 cohort and this year's hires.
-- A scheduled termination date rides along so the snapshot can carry a still-future one.
SELECT
    r.employee_id, r.employee_key, r.birth_date, r.hire_date, r.level_id, r.compensation_cents,
    r.auto_escalation_opt_out, r.eligibility_override, r.scheduled_termination_date,
    r.age, r.tenure, r.age_band, r.tenure_band,
    false AS is_new_hire,
    r.u_enroll, r.u_enroll_date, r.u_opt_out, r.u_defer
FROM rng AS r
UNION ALL
SELECT
    h.employee_id, h.employee_key, h.birth_date, h.hire_date, h.level_id, h.compensation_cents,
    false AS auto_escalation_opt_out, CAST(NULL AS BOOLEAN) AS eligibility_override,
    CAST(NULL AS DATE) AS scheduled_termination_date,
    h.age, h.tenure, h.age_band, h.tenure_band,
    true AS is_new_hire,
    h.u_enroll, h.u_enroll_date, h.u_opt_out, CAST(NULL AS DOUBLE) AS u_defer
FROM hire AS h
