-- cohort_t: the workforce at Jan 1 of the simulation year (state at t-1), with whole-year
-- age and tenure as of Jan 1, whether the employee was hired last year, and whether a
-- scheduled termination (known from the census) falls in this year. In a shard, each
-- member also carries its plan state per design (the plan_* lists) and member_ix.
SELECT
    c.*,
    -- whole years completed on Jan 1 (docs/model.md §1)
    whole_years(c.birth_date, cal.sim_year) AS age,
    whole_years(c.hire_date, cal.sim_year) AS tenure,
    c.hire_date >= cal.prior_year_start AS hired_last_year,
    COALESCE(c.scheduled_termination_date BETWEEN cal.year_start AND cal.year_end, false) AS scheduled_this_year,
    cal.sim_year  -- what rng draws by
FROM calendar AS cal  -- the year's one row
CROSS JOIN cohort AS c
