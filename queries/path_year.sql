-- path_year: one row per path with what its members' rules read that is the path's own: its
-- scenario's values (scenarios, by variant) and, from the global step, its new-hire termination
-- count and termination cutoff (NULL when nobody is drawn: no key compares below NULL), and the
-- year's calendar, so that the member chain reads its dates off the row instead of joining for them
-- (the scenario's dates are a month and day: this year's here).
SELECT
    p.path,
    s.scenario_id,
    s.scenario_key,
    s.cola,
    make_date(cal.sim_year, s.promotion_month, s.promotion_day) AS promotion_date,
    s.promotion_raise,
    s.promotion_raise_spread,
    s.promotion_raise_cap,
    s.promotion_max_age,
    make_date(cal.sim_year, s.merit_month, s.merit_day) AS merit_date,
    c.new_hire_terms,
    t.cutoff_key,
    t.cutoff_employee_id,
    cal.year_start,
    cal.year_end,
    cal.days_in_year
FROM calendar AS cal  -- the year's one row
CROSS JOIN paths AS p
JOIN scenarios AS s ON s.variant = p.variant
JOIN year_counts AS c ON c.path = p.path
LEFT JOIN termination_cutoff AS t ON t.path = p.path
