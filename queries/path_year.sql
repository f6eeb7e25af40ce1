-- path_year: one row per path with what its members' rules read that is the path's own: its
-- scenario's values (scenarios, by variant) and, from the global step, its new-hire termination
-- count and termination cutoff (NULL when nobody is drawn: no key compares below NULL), and the
-- year's calendar, so that the member chain reads its dates off the row instead of joining for them.
SELECT
    p.path,
    s.scenario_id,
    s.scenario_key,
    s.cola,
    s.promotion_date,
    s.promotion_raise,
    s.promotion_raise_spread,
    s.promotion_raise_cap,
    s.promotion_max_age,
    s.merit_date,
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
