-- enrollment branch, for the eligible who are not enrolled and never opted out.
-- Auto-enrollment (in the design's scope): on eligibility + window days, or on the
-- first simulated year's AE date for those eligible before the simulation; the event
-- falls in the year of that date. Everyone else may enroll voluntarily: in the first
-- year of eligibility on a uniform day from eligibility to Dec 31, later on a uniform
-- day of the year, with probability and rate by age group.
WITH candidates AS (
    SELECT pm.*
    FROM plan_members AS pm
    WHERE NOT pm.enrolled
      AND NOT pm.opted_out
      AND pm.eligibility_date IS NOT NULL
      AND pm.eligibility_date <= $year_end
),
auto AS (
    SELECT
        c.*,
        d.auto_enroll_rate,
        CASE WHEN c.eligibility_date < $first_year_start THEN d.auto_enroll_first_date
             ELSE c.eligibility_date + d.auto_enroll_window_days END AS ae_date
    FROM candidates AS c
    JOIN plan_designs AS d ON d.plan_design_id = c.plan_design_id
    WHERE c.in_auto_enroll_scope
),
voluntary AS (
    SELECT
        c.*,
        c.eligibility_date >= $year_start AS first_year,
        CASE WHEN c.eligibility_date >= $year_start THEN va.first_year_rate ELSE va.later_rate END AS p,
        va.deferral_rate AS elected_rate
    FROM candidates AS c
    JOIN voluntary_ages AS va
        ON va.plan_design_id = c.plan_design_id
       AND va.years = least(c.age, $band_top)
    WHERE NOT c.in_auto_enroll_scope
)
SELECT
    a.plan_design_id,
    a.employee_id,
    'enrollment' AS event_type,
    'auto_enrollment' AS event_category,
    a.ae_date AS event_date,
    CAST(NULL AS INT) AS level_id,
    CAST(NULL AS INT) AS previous_level_id,
    CAST(NULL AS BIGINT) AS compensation_cents,
    CAST(NULL AS BIGINT) AS previous_compensation_cents,
    a.auto_enroll_rate AS deferral_rate,
    a.deferral_rate AS previous_deferral_rate,
    CAST(NULL AS DOUBLE) AS event_probability
FROM auto AS a
WHERE a.ae_date BETWEEN $year_start AND $year_end
UNION ALL
SELECT
    v.plan_design_id,
    v.employee_id,
    'enrollment',
    'voluntary_enrollment',
    CASE
        WHEN v.first_year THEN v.eligibility_date + CAST(floor(v.u_enroll_date
            * (CAST(CAST($year_end AS DATE) - v.eligibility_date AS BIGINT) + 1)) AS INT)
        ELSE CAST($year_start AS DATE) + CAST(floor(v.u_enroll_date * $days_in_year) AS INT)
    END,
    CAST(NULL AS INT),
    CAST(NULL AS INT),
    CAST(NULL AS BIGINT),
    CAST(NULL AS BIGINT),
    v.elected_rate,
    v.deferral_rate,
    v.p
FROM voluntary AS v
WHERE v.u_enroll < v.p
