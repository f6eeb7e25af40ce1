-- workforce_metrics: the workforce year by year (docs/model.md §4 and §6), over a warehouse's
-- snapshot and events tables (each with its simulation_year), overall or broken down by job level,
-- age band or tenure band ($by: 'level', 'age_band', 'tenure_band', anything else: one group 'all').
-- The workforce is the same under every plan design, so it is read off the first design's rows.
-- Each person counts in the group they were in when the counted thing happened: the headcount at
-- the start, experienced terminations and promotions by the level at Jan 1 (a promotion's previous
-- level), hires and new-hire terminations by the level at hire, the headcount at the end and pay by
-- the level at Dec 31; bands are those of the age and tenure on Jan 1, as the events show them
-- (age_bands and tenure_bands: each year's config's bands by whole year, 0..200).
WITH first_design AS (
    SELECT s.simulation_year, min(s.plan_design_id) AS plan_design_id
    FROM snapshot AS s
    GROUP BY s.simulation_year
),
people AS (
    -- everyone employed at any time in the year; in the cohort when hired before Jan 1
    SELECT
        s.simulation_year, s.employee_id, s.status, s.level_id, s.compensation, s.birth_date, s.hire_date,
        s.hire_date < make_date(s.simulation_year, 1, 1) AS in_cohort
    FROM snapshot AS s
    JOIN first_design AS f ON f.simulation_year = s.simulation_year AND f.plan_design_id = s.plan_design_id
),
promotions AS (
    SELECT e.simulation_year, e.employee_id, e.previous_level_id
    FROM events AS e
    JOIN first_design AS f ON f.simulation_year = e.simulation_year AND f.plan_design_id = e.plan_design_id
    WHERE e.event_type = 'promotion'
),
aged AS (
    -- whole years completed on Jan 1 (docs/model.md §1): one less unless born (hired) on Jan 1; a hire's tenure is 0
    SELECT
        p.*,
        pr.employee_id IS NOT NULL AS promoted,
        COALESCE(pr.previous_level_id, p.level_id) AS level_at_start,
        CAST(p.simulation_year - date_part('year', p.birth_date)
             - CASE WHEN date_part('month', p.birth_date) = 1 AND date_part('day', p.birth_date) = 1 THEN 0 ELSE 1 END
             AS BIGINT) AS age,
        CAST(greatest(0, p.simulation_year - date_part('year', p.hire_date)
             - CASE WHEN date_part('month', p.hire_date) = 1 AND date_part('day', p.hire_date) = 1 THEN 0 ELSE 1 END)
             AS BIGINT) AS tenure
    FROM people AS p
    LEFT JOIN promotions AS pr ON pr.simulation_year = p.simulation_year AND pr.employee_id = p.employee_id
),
grouped AS (
    SELECT
        a.*,
        CASE $by WHEN 'level' THEN CAST(a.level_at_start AS VARCHAR) WHEN 'age_band' THEN ab.band
                 WHEN 'tenure_band' THEN tb.band ELSE 'all' END AS group_at_start,
        CASE $by WHEN 'level' THEN CAST(a.level_id AS VARCHAR) WHEN 'age_band' THEN ab.band
                 WHEN 'tenure_band' THEN tb.band ELSE 'all' END AS group_at_end
    FROM aged AS a
    JOIN age_bands AS ab ON ab.simulation_year = a.simulation_year AND ab.years = least(greatest(a.age, 0), 200)
    JOIN tenure_bands AS tb ON tb.simulation_year = a.simulation_year AND tb.years = least(a.tenure, 200)
),
at_start AS (
    SELECT
        g.simulation_year, g.group_at_start AS category,
        count(*) FILTER (WHERE g.in_cohort) AS headcount_start,
        count(*) FILTER (WHERE NOT g.in_cohort) AS hires,
        count(*) FILTER (WHERE g.in_cohort AND g.status = 'terminated') AS experienced_terminations,
        count(*) FILTER (WHERE NOT g.in_cohort AND g.status = 'terminated') AS new_hire_terminations,
        count(*) FILTER (WHERE g.promoted) AS promotions
    FROM grouped AS g
    GROUP BY g.simulation_year, g.group_at_start
),
at_end AS (
    SELECT
        g.simulation_year, g.group_at_end AS category,
        count(*) FILTER (WHERE g.status = 'active') AS headcount_end,
        sum(g.compensation) FILTER (WHERE g.status = 'active') AS total_compensation
    FROM grouped AS g
    GROUP BY g.simulation_year, g.group_at_end
),
counted AS (
    SELECT
        COALESCE(s.simulation_year, e.simulation_year) AS simulation_year,
        COALESCE(s.category, e.category) AS category,
        COALESCE(s.headcount_start, 0) AS headcount_start,
        COALESCE(e.headcount_end, 0) AS headcount_end,
        COALESCE(s.hires, 0) AS hires,
        COALESCE(s.experienced_terminations, 0) AS experienced_terminations,
        COALESCE(s.new_hire_terminations, 0) AS new_hire_terminations,
        COALESCE(s.promotions, 0) AS promotions,
        e.total_compensation
    FROM at_start AS s
    FULL OUTER JOIN at_end AS e ON e.simulation_year = s.simulation_year AND e.category = s.category
),
rated AS (
    SELECT
        c.*,
        -- annual pay at Dec 31 of the actives: its mean, in whole cents
        CAST(c.total_compensation / nullif(c.headcount_end, 0) AS DECIMAL(18, 2)) AS mean_compensation
    FROM counted AS c
)
SELECT
    r.simulation_year,
    r.category,
    r.headcount_start,
    r.headcount_end,
    r.hires,
    r.experienced_terminations,
    CAST(r.experienced_terminations AS DOUBLE) / nullif(r.headcount_start, 0) AS experienced_termination_rate,
    r.new_hire_terminations,
    CAST(r.new_hire_terminations AS DOUBLE) / nullif(r.hires, 0) AS new_hire_termination_rate,
    r.promotions,
    CAST(r.promotions AS DOUBLE) / nullif(r.headcount_start, 0) AS promotion_rate,
    CAST(r.total_compensation AS DECIMAL(18, 2)) AS total_compensation,
    r.mean_compensation,
    -- against the same group's mean the year before (NULL in the first year the warehouse holds)
    CAST(r.mean_compensation AS DOUBLE) / nullif(CAST(before.mean_compensation AS DOUBLE), 0) - 1 AS compensation_growth
FROM rated AS r
LEFT JOIN rated AS before ON before.simulation_year = r.simulation_year - 1 AND before.category = r.category
ORDER BY r.simulation_year, r.category
