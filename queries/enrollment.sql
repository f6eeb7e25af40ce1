-- enrollment branch, for the eligible who are not enrolled and never opted out.
-- Auto-enrollment (in the design's scope): on eligibility + window days, or on the
-- first simulated year's AE date for those eligible before the simulation; the event
-- falls in the year of that date. Everyone else may enroll voluntarily: in the first
-- year of eligibility on a uniform day from eligibility to Dec 31, later on a uniform
-- day of the year, with probability and rate by age group (plan_members looks them up).
WITH candidates AS (
    SELECT
        e.*,
        NOT e.enrolled AND NOT e.opted_out AND COALESCE(e.eligibility_date <= e.year_end, false) AS may_enroll,
        CASE WHEN e.eligibility_date < $first_year_start THEN e.auto_enroll_first_date
             ELSE add_days(e.eligibility_date, e.auto_enroll_window_days) END AS ae_date,
        e.eligibility_date >= e.year_start AS first_year,
        CASE WHEN e.eligibility_date >= e.year_start THEN e.voluntary_first_year_rate
             ELSE e.voluntary_later_rate END AS voluntary_p
    FROM eligibility AS e
),
decided AS (
    SELECT
        c.*,
        CASE WHEN NOT c.may_enroll THEN CAST(NULL AS VARCHAR)
             WHEN c.in_auto_enroll_scope THEN
                 CASE WHEN c.ae_date BETWEEN c.year_start AND c.year_end THEN 'auto_enrollment' END
             WHEN c.u_enroll < c.voluntary_p THEN 'voluntary_enrollment'
        END AS enrollment_category
    FROM candidates AS c
)
SELECT
    -- what enrollment is the last to read is not passed on
    d.* EXCLUDE (auto_enroll_rate, auto_enroll_window_days, auto_enroll_first_date, voluntary_first_year_rate,
                 voluntary_later_rate, voluntary_deferral_rate, u_enroll, u_enroll_date, in_auto_enroll_scope,
                 may_enroll, ae_date, first_year, voluntary_p, days_in_year),
    CASE d.enrollment_category
        WHEN 'auto_enrollment' THEN d.ae_date
        WHEN 'voluntary_enrollment' THEN
            CASE WHEN d.first_year THEN add_days(d.eligibility_date, CAST(floor(d.u_enroll_date
                     * (CAST(d.year_end - d.eligibility_date AS BIGINT) + 1)) AS BIGINT))
                 ELSE add_days(d.year_start, CAST(floor(d.u_enroll_date * d.days_in_year) AS BIGINT)) END
    END AS enrollment_on,
    CASE d.enrollment_category
        WHEN 'auto_enrollment' THEN d.auto_enroll_rate
        WHEN 'voluntary_enrollment' THEN d.voluntary_deferral_rate
    END AS enrollment_deferral_rate,
    CASE WHEN d.enrollment_category = 'voluntary_enrollment' THEN d.voluntary_p END AS enrollment_probability
FROM decided AS d
