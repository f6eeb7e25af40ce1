-- cohort_t: the workforce at Jan 1 of the simulation year (state at t-1),
-- with whole-year age and tenure as of Jan 1 and the hazard inputs they select,
-- and whether a scheduled termination (known from the census) falls in this year.
WITH aged AS (
    SELECT
        c.*,
        -- whole years completed on Jan 1: the calendar difference, less one unless born (hired) on Jan 1
        CAST($sim_year - date_part('year', c.birth_date)
             - CASE WHEN date_part('doy', c.birth_date) = 1 THEN 0 ELSE 1 END AS BIGINT) AS age,
        CAST($sim_year - date_part('year', c.hire_date)
             - CASE WHEN date_part('doy', c.hire_date) = 1 THEN 0 ELSE 1 END AS BIGINT) AS tenure,
        c.hire_date >= $prior_year_start AS hired_last_year,
        COALESCE(c.scheduled_termination_date BETWEEN $year_start AND $year_end, false) AS scheduled_this_year,
        employee_key(c.employee_id) AS employee_key
    FROM cohort AS c
)
SELECT
    a.*,  -- in a shard, with each member's plan state per design (plan_* lists)
    -- every draw of the employee's year starts from this (udfs.hash_rng: draw_key, draw)
    draw_key(a.employee_key, $sim_year, $seed) AS draw_key,
    h.age_band,
    h.tenure_band,
    h.termination_weight,
    h.promotion_p,
    h.merit_rate,
    h.promoted_merit_rate
FROM hazards AS h  -- the small side first, so that DataFusion builds its hash table from it
JOIN aged AS a
    ON h.level_id = a.level_id
   AND h.age_years = least(a.age, $age_band_top)
   AND h.tenure_years = least(a.tenure, $tenure_band_top)
