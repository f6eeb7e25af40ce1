-- year_events: every branch's events for the year, UNION ALL. Workforce branches are the
-- same under every plan design; plan branches are per design. Nothing survives that is
-- dated after the employee's termination. `moment` orders an employee's year: the date,
-- then the contract's type order on the same day (event_types.type_rank).
WITH workforce_events AS (
    SELECT
        h.employee_id,
        'hire' AS event_type,
        'new_hire' AS event_category,
        h.hire_date AS event_date,
        h.level_id,
        CAST(NULL AS INT) AS previous_level_id,
        h.compensation_cents,
        CAST(NULL AS BIGINT) AS previous_compensation_cents,
        CAST(NULL AS DOUBLE) AS deferral_rate,
        CAST(NULL AS DOUBLE) AS previous_deferral_rate,
        CAST(NULL AS DOUBLE) AS event_probability
    FROM hire AS h
    UNION ALL SELECT * FROM termination
    UNION ALL SELECT * FROM promotion
    UNION ALL SELECT * FROM merit
),
all_events AS (
    -- the small side first: DataFusion builds the left side of a cross join in memory
    SELECT d.plan_design_id, w.*
    FROM plan_designs AS d
    CROSS JOIN workforce_events AS w
    UNION ALL SELECT * FROM eligibility
    UNION ALL SELECT * FROM enrollment
    UNION ALL SELECT * FROM opt_out
    UNION ALL SELECT * FROM escalation
    UNION ALL SELECT * FROM deferral_change
)
SELECT
    e.*,
    CAST(e.event_date - DATE '1970-01-01' AS BIGINT) * 16 + et.type_rank AS moment
FROM all_events AS e
JOIN event_types AS et ON et.event_type = e.event_type
LEFT JOIN termination AS t ON t.employee_id = e.employee_id
WHERE t.event_date IS NULL OR e.event_date <= t.event_date
