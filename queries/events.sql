-- events: the year partition. Workforce branches (same under every plan design) and
-- plan branches, UNION ALL; nothing after an employee's termination; event_seq orders
-- each employee's year by date, then by the contract's type order; level, pay and
-- deferral rate are carried forward so every row shows the state as of that event.
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
),
while_employed AS (
    SELECT e.*
    FROM all_events AS e
    LEFT JOIN termination AS t ON t.employee_id = e.employee_id
    WHERE t.event_date IS NULL OR e.event_date <= t.event_date
),
sequenced AS (
    SELECT
        w.*,
        ROW_NUMBER() OVER (
            PARTITION BY w.plan_design_id, w.employee_id
            ORDER BY w.event_date, et.type_rank
        ) AS event_seq
    FROM while_employed AS w
    JOIN event_types AS et ON et.event_type = w.event_type
),
carried AS (
    SELECT
        q.*,
        last_value(q.level_id) IGNORE NULLS OVER employee_year AS level_so_far,
        last_value(q.compensation_cents) IGNORE NULLS OVER employee_year AS pay_so_far,
        last_value(q.deferral_rate) IGNORE NULLS OVER employee_year AS rate_so_far
    FROM sequenced AS q
    WINDOW employee_year AS (
        PARTITION BY q.plan_design_id, q.employee_id
        ORDER BY q.event_seq
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
)
SELECT
    lpad(to_hex(employee_key(concat_ws('|', $scenario_id, c.plan_design_id, c.employee_id,
        CAST($sim_year AS VARCHAR), CAST(c.event_seq AS VARCHAR)))), 16, '0') AS event_id,
    $scenario_id AS scenario_id,
    c.plan_design_id,
    c.employee_id,
    CAST($sim_year AS INT) AS simulation_year,
    c.event_type,
    c.event_category,
    CAST(c.event_seq AS INT) AS event_seq,
    c.event_date,
    CAST(COALESCE(c.level_so_far, pm.level_id) AS INT) AS level_id,
    c.previous_level_id,
    COALESCE(c.pay_so_far, pm.compensation_cents) AS compensation_cents,
    c.previous_compensation_cents,
    COALESCE(c.rate_so_far, pm.deferral_rate) AS deferral_rate,
    c.previous_deferral_rate,
    c.event_probability,
    CAST(pm.age AS INT) AS employee_age,
    CAST(pm.tenure AS INT) AS tenure_years,
    pm.age_band,
    pm.tenure_band
FROM carried AS c
JOIN plan_members AS pm ON pm.plan_design_id = c.plan_design_id AND pm.employee_id = c.employee_id
ORDER BY plan_design_id, employee_id, event_seq
