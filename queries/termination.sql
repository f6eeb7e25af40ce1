-- termination branch.
-- Experienced: exactly experienced_terms of the cohort. Those scheduled to leave this year
-- (a known termination date from the census) count toward it and leave on that date,
-- category scheduled_termination. The rest, experienced_terms - scheduled_terms, are drawn
-- from the cohort members not scheduled this year by weighted sampling without replacement
-- (rng.sample_key; the global step's termination_cutoff, in path_year, marks the last one drawn), dated
-- a uniform day of the year.
-- New hire: exactly new_hire_terms of this year's hires dated before Dec 31, those with
-- the smallest u_nh_term (hire.nh_term_pick), dated uniformly in (hire_date, Dec 31].
WITH decided AS (
    SELECT
        m.*,
        CASE WHEN m.scheduled_this_year THEN 'scheduled_termination'
             WHEN m.sample_key < m.cutoff_key
               OR (m.sample_key = m.cutoff_key AND m.employee_id <= m.cutoff_employee_id)
                 THEN 'experienced_termination'
             WHEN m.nh_term_pick <= m.new_hire_terms THEN 'new_hire_termination'
        END AS termination_category
    FROM merit AS m
)
SELECT
    -- what termination is the last to read is not passed on
    d.* EXCLUDE (draw_key, scheduled_this_year, sample_key, nh_term_pick, u_nh_term_date, new_hire_terms,
                 cutoff_key, cutoff_employee_id),
    CASE d.termination_category
        WHEN 'scheduled_termination' THEN d.scheduled_termination_date
        WHEN 'experienced_termination' THEN add_days(d.year_start,
            CAST(floor(draw(d.draw_key, 'term_date') * d.days_in_year) AS BIGINT))
        WHEN 'new_hire_termination' THEN add_days(d.hire_date, CAST(1 + floor(d.u_nh_term_date
            * CAST(d.year_end - d.hire_date AS BIGINT)) AS BIGINT))
    END AS termination_on
FROM decided AS d
