-- yearly_metrics: what plan designs are compared on, per path, year and plan design (docs/model.md
-- §7), over the snapshot and contributions rows measured (each with its path and simulation_year:
-- a warehouse's tables are path 0, a sweep's batch holds many paths).
-- Counts are of actives at Dec 31; amounts are the year's totals over everyone employed in it.
WITH workforce AS (
    SELECT
        s.path,
        s.simulation_year,
        s.plan_design_id,
        count(*) FILTER (WHERE s.status = 'active') AS actives,
        count(*) FILTER (WHERE s.status = 'active' AND s.eligibility_date <= make_date(s.simulation_year, 12, 31))
            AS eligible,
        count(*) FILTER (WHERE s.status = 'active' AND s.enrolled) AS participants,
        count(*) FILTER (WHERE s.status = 'active' AND s.enrolled
                         AND s.eligibility_date <= make_date(s.simulation_year, 12, 31)) AS eligible_participants,
        avg(s.deferral_rate) FILTER (WHERE s.status = 'active' AND s.enrolled) AS mean_deferral_rate
    FROM measured_snapshot AS s
    GROUP BY s.path, s.simulation_year, s.plan_design_id
),
money AS (
    SELECT
        c.path,
        c.simulation_year,
        c.plan_design_id,
        sum(c.plan_compensation) AS plan_compensation,
        sum(c.employee_deferrals) AS employee_deferrals,
        sum(c.employer_match) AS employer_match,
        sum(c.employer_core) AS employer_core,
        count(*) FILTER (WHERE c.deferral_limit_reached) AS at_deferral_limit
    FROM measured_contributions AS c
    GROUP BY c.path, c.simulation_year, c.plan_design_id
)
SELECT
    w.path,
    w.simulation_year,
    w.plan_design_id,
    w.actives,
    w.eligible,
    w.participants,
    -- of the eligible actives, the share enrolled
    CAST(w.eligible_participants AS DOUBLE) / nullif(w.eligible, 0) AS participation_rate,
    w.mean_deferral_rate,
    CAST(m.plan_compensation AS DECIMAL(18, 2)) AS plan_compensation,
    CAST(m.employee_deferrals AS DECIMAL(18, 2)) AS employee_deferrals,
    CAST(m.employer_match AS DECIMAL(18, 2)) AS employer_match,
    CAST(m.employer_core AS DECIMAL(18, 2)) AS employer_core,
    CAST(m.employer_match + m.employer_core AS DOUBLE) / nullif(CAST(m.plan_compensation AS DOUBLE), 0)
        AS employer_cost_rate,
    m.at_deferral_limit
FROM workforce AS w
LEFT JOIN money AS m
    ON m.path = w.path AND m.simulation_year = w.simulation_year AND m.plan_design_id = w.plan_design_id
ORDER BY w.path, w.simulation_year, w.plan_design_id
