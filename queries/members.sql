-- members: everyone employed at some point this year, one row each: the Jan-1 cohort with
-- its draws, and this year's hires with theirs (drawn in the global step), each with its
-- path's own values (path_year). Each branch that follows adds its outcome to this row
-- (<branch>_on, the date, NULL when it does not happen). member_ix is the member's place in
-- the shard's (path, employee_id) order; plan_* are the plan state at Jan 1 under each design,
-- in design order.
WITH everyone AS (
    SELECT
        r.member_ix, r.path, r.variant, r.employee_id, r.employee_key, r.draw_key, r.birth_date, r.hire_date,
        r.level_id, r.compensation_cents,
        r.auto_escalation_opt_out, r.eligibility_override, r.scheduled_termination_date, r.scheduled_this_year,
        r.scheduled_hours_per_week,
        r.age, r.tenure, r.age_band, r.tenure_band,
        false AS is_new_hire,
        r.promotion_p, r.merit_rate, r.promoted_merit_rate, r.u_promo, r.u_promo_raise, r.u_merit, r.sample_key,
        r.u_enroll, r.u_enroll_date, r.u_opt_out, r.u_defer,
        r.plan_deferral_rates, r.plan_enrollment_dates, r.plan_opted_out
    FROM rng AS r
    -- hires have no plan state, promotion or merit draws: BY NAME fills what they lack with NULLs
    UNION ALL BY NAME
    SELECT
        h.member_ix, h.path, h.variant, h.employee_id, h.employee_key, h.birth_date, h.hire_date, h.level_id,
        h.compensation_cents,
        false AS auto_escalation_opt_out,
        h.age, h.tenure, h.age_band, h.tenure_band,
        true AS is_new_hire,
        h.nh_term_pick, h.u_nh_term_date,
        h.u_enroll, h.u_enroll_date, h.u_opt_out
    FROM hire AS h
)
SELECT e.*, p.* EXCLUDE (path)
FROM path_year AS p  -- the small side first: DataFusion builds its hash table from it
JOIN everyone AS e ON e.path = p.path
