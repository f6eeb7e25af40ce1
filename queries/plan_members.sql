-- plan_members: each member under each plan design, with the plan state at Jan 1
-- (new hires start unenrolled) and the design's eligibility date:
-- max(hire + waiting_days, min_age-th birthday), never when eligibility_override is false.
SELECT
    d.plan_design_id,
    d.plan_design_key,
    m.*,
    COALESCE(pc.deferral_rate, 0.0) AS deferral_rate,
    COALESCE(pc.deferral_rate, 0.0) > 0 AS enrolled,
    pc.enrollment_date,
    COALESCE(pc.opted_out, false) AS opted_out,
    CASE
        WHEN m.eligibility_override IS NOT DISTINCT FROM false THEN CAST(NULL AS DATE)
        -- a Feb 29 birthday reaches its age on Mar 1 in other years
        ELSE greatest(
            m.hire_date + d.waiting_days,
            make_date(date_part('year', m.birth_date) + d.min_age, date_part('month', m.birth_date), 1)
                + CAST(date_part('day', m.birth_date) - 1 AS INT))
    END AS eligibility_date,
    d.auto_enroll AND (d.auto_enroll_all OR m.hire_date >= $first_year_start) AS in_auto_enroll_scope
FROM plan_designs AS d  -- the small side first: the left side of a cross join is built in memory
CROSS JOIN members AS m
LEFT JOIN plan_cohort AS pc
    ON pc.plan_design_id = d.plan_design_id AND pc.employee_id = m.employee_id
