-- plan_members: each member under each plan design, with the design's parameters and its
-- rates for the member's age, the plan state at Jan 1 (the design's element of the member's
-- plan_* lists; new hires start unenrolled) and the design's eligibility date:
-- max(hire + waiting_days, min_age-th birthday), never when eligibility_override is false.
WITH design_age AS (
    -- each design with its rates for every whole year of age (design_ages), so that a member finds
    -- its designs and their rates for its age in one join
    SELECT
        d.* EXCLUDE (deferral_change_month, deferral_change_day, escalation_month, escalation_day),
        -- the design's dates of every year (a month and day), this year's
        make_date(cal.sim_year, d.deferral_change_month, d.deferral_change_day) AS deferral_change_date,
        make_date(cal.sim_year, d.escalation_month, d.escalation_day) AS escalation_date,
        da.years,
        da.voluntary_first_year_rate,
        da.voluntary_later_rate,
        da.voluntary_deferral_rate,
        da.opt_out_mult
    FROM calendar AS cal  -- the year's one row
    CROSS JOIN plan_designs AS d
    JOIN design_ages AS da ON da.variant = d.variant AND da.design_rank = d.design_rank
)
SELECT
    -- what plan_members is the last to read is not passed on
    d.* EXCLUDE (variant, years, min_age, waiting_days, auto_enroll, auto_enroll_all),
    m.* EXCLUDE (plan_deferral_rates, plan_enrollment_dates, plan_opted_out),
    COALESCE(m.plan_deferral_rates[d.design_rank + 1], 0.0) AS deferral_rate,
    COALESCE(m.plan_deferral_rates[d.design_rank + 1], 0.0) > 0 AS enrolled,
    m.plan_enrollment_dates[d.design_rank + 1] AS enrollment_date,
    COALESCE(m.plan_opted_out[d.design_rank + 1], false) AS opted_out,
    CASE
        WHEN m.eligibility_override IS NOT DISTINCT FROM false THEN CAST(NULL AS DATE)
        -- a Feb 29 birthday reaches its age on Mar 1 in other years
        ELSE greatest(add_days(m.hire_date, d.waiting_days), anniversary(m.birth_date, d.min_age))
    END AS eligibility_date,
    d.auto_enroll AND (d.auto_enroll_all OR m.hire_date >= $first_year_start) AS in_auto_enroll_scope
FROM design_age AS d  -- the small side first: DataFusion builds its hash table from it
-- the member's variant's designs, at its age
JOIN termination AS m ON m.variant = d.variant AND d.years = least(m.age, $band_top)
