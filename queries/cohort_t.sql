-- cohort_t: the workforce at Jan 1 of the simulation year (state at t-1), with whole-year
-- age and tenure as of Jan 1, whether the employee was hired last year, and whether a
-- scheduled termination (known from the census) falls in this year. In a shard, each
-- member also carries its plan state per design (the plan_* lists) and member_ix.
SELECT
    c.*,
    -- whole years completed on Jan 1: the calendar difference, less one unless born (hired) on Jan 1
    CAST($sim_year - date_part('year', c.birth_date)
         - CASE WHEN date_part('doy', c.birth_date) = 1 THEN 0 ELSE 1 END AS BIGINT) AS age,
    CAST($sim_year - date_part('year', c.hire_date)
         - CASE WHEN date_part('doy', c.hire_date) = 1 THEN 0 ELSE 1 END AS BIGINT) AS tenure,
    c.hire_date >= $prior_year_start AS hired_last_year,
    COALESCE(c.scheduled_termination_date BETWEEN $year_start AND $year_end, false) AS scheduled_this_year
FROM cohort AS c
