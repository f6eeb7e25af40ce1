-- hire: each path's new employees this year, NH_<year>_<seq>, with the draws they need: a global
-- step (the level mix is the path's whole cohort's; which hires leave again is decided among all
-- of the path's hires: nh_term_pick ranks those dated before Dec 31 by u_nh_term, ties by
-- employee_id). Numbers and draws are the path's own, as in a run of that path alone.
-- Levels by the slot method: slot k (1..H) sits at (k - 0.5) / H and takes the level whose
-- cumulative share [lo/N, hi/N) of Jan-1 headcount contains it. In integers:
-- (2k - 1) N >= 2 H lo  <=>  k >= ceil((2 H lo + N) / 2N), and likewise for hi, so each
-- level owns the slot range [ceil((2 H lo + N) / 2N), ceil((2 H hi + N) / 2N)), exactly.
WITH level_mix AS (
    SELECT path, level_id, COUNT(*) AS n FROM cohort_t GROUP BY path, level_id
),
level_cum AS (
    SELECT
        path,
        level_id,
        SUM(n) OVER (PARTITION BY path ORDER BY level_id) - n AS cum_lo,
        SUM(n) OVER (PARTITION BY path ORDER BY level_id) AS cum_hi
    FROM level_mix
),
level_slots AS (
    SELECT
        lc.path,
        lc.level_id,
        -- exact: the quotient of two integers below 2**53 is correctly rounded, and a
        -- non-integer quotient is at least 1 / 2N away from the next integer
        CAST(ceil(CAST(2 * yc.hires * lc.cum_lo + yc.n_active AS DOUBLE) / (2 * yc.n_active)) AS BIGINT)
            AS first_slot,
        CAST(ceil(CAST(2 * yc.hires * lc.cum_hi + yc.n_active AS DOUBLE) / (2 * yc.n_active)) AS BIGINT)
            AS end_slot
    FROM year_counts AS yc  -- the small side first
    JOIN level_cum AS lc ON lc.path = yc.path
),
slotted AS (
    SELECT
        s.path,
        s.level_id,
        s.hire_seq,
        -- at least 6 digits; lpad would truncate a 7-digit sequence, so never pad below its length
        'NH_' || CAST(cal.sim_year AS VARCHAR) || '_'
            || lpad(CAST(s.hire_seq AS VARCHAR), CAST(greatest(6, length(CAST(s.hire_seq AS VARCHAR))) AS INT), '0')
            AS employee_id,
        cal.sim_year, cal.year_start, cal.year_end, cal.days_in_year
    FROM calendar AS cal CROSS JOIN (
        SELECT path, level_id, unnest(range(first_slot, end_slot)) AS hire_seq FROM level_slots
    ) AS s
),
keyed AS (
    SELECT sl.*, p.variant, p.seed, employee_key(sl.employee_id) AS employee_key
    FROM paths AS p
    JOIN slotted AS sl ON sl.path = p.path
),
drawn AS (
    SELECT
        k.*,
        hash_rng_key(k.employee_key, k.sim_year, 'hire_age', k.seed) AS u_hire_age,
        hash_rng_key(k.employee_key, k.sim_year, 'hire_pay', k.seed) AS u_hire_pay,
        hash_rng_key(k.employee_key, k.sim_year, 'hire_date', k.seed) AS u_hire_date,
        hash_rng_key(k.employee_key, k.sim_year, 'nh_term', k.seed) AS u_nh_term,
        hash_rng_key(k.employee_key, k.sim_year, 'nh_term_date', k.seed) AS u_nh_term_date,
        hash_rng_key(k.employee_key, k.sim_year, 'enroll', k.seed) AS u_enroll,
        hash_rng_key(k.employee_key, k.sim_year, 'enroll_date', k.seed) AS u_enroll_date,
        hash_rng_key(k.employee_key, k.sim_year, 'opt_out', k.seed) AS u_opt_out
    FROM keyed AS k
),
pay_ranges AS (
    -- each variant's pay spread beside each level's range: one small table, so that a hire finds
    -- both in one join whose build side is this one
    SELECT s.variant, s.hire_pay_spread, l.level_id, l.pay_min, l.pay_max, l.hire_pay_position
    FROM scenarios AS s CROSS JOIN levels AS l
),
paid AS (
    SELECT
        d.*,
        add_days(d.year_start, CAST(floor(d.u_hire_date * d.days_in_year) AS BIGINT)) AS hire_date,
        -- pay = (min + (max - min) * position) * (1 - spread + 2 * spread * u), half-up to cents
        CAST(floor((r.pay_min + (r.pay_max - r.pay_min) * r.hire_pay_position)
                   * (1 - r.hire_pay_spread + 2 * r.hire_pay_spread * d.u_hire_pay) * 100 + 0.5) AS BIGINT)
            AS compensation_cents
    FROM pay_ranges AS r  -- the small side first: DataFusion builds its hash table from it
    JOIN drawn AS d ON d.variant = r.variant AND d.level_id = r.level_id
),
dated AS (
    -- the age whose slice of [0, 1) holds u_hire_age, among the few of the draw's cell
    SELECT p.*, ha.age AS hire_age
    FROM hire_age_cells AS ha  -- the small side first
    JOIN paid AS p
      ON ha.cell = CAST(floor(p.u_hire_age * $hire_age_cell_count) AS BIGINT)
     AND p.u_hire_age >= ha.u_lo AND p.u_hire_age < ha.u_hi
),
born AS (
    -- born hire_age years before the hire date (a Feb 29 hire date: Mar 1)
    SELECT
        d.*,
        anniversary(d.hire_date, -d.hire_age) AS birth_date
    FROM dated AS d
),
aged AS (
    SELECT
        b.*,
        whole_years(b.birth_date, b.sim_year) AS age,
        CAST(0 AS BIGINT) AS tenure
    FROM born AS b
),
banded AS (
    SELECT a.*, ab.band AS age_band
    FROM age_bands AS ab  -- the small side first
    JOIN aged AS a ON ab.years = least(a.age, $band_top)
)
SELECT
    a.path,
    a.variant,
    a.seed,
    a.employee_id,
    a.employee_key,
    a.hire_seq,
    a.birth_date,
    a.hire_date,
    CAST(a.level_id AS INT) AS level_id,
    a.compensation_cents,
    a.age,
    a.tenure,
    a.age_band,
    tb.band AS tenure_band,
    a.u_nh_term,
    a.u_nh_term_date,
    a.u_enroll,
    a.u_enroll_date,
    a.u_opt_out,
    CASE WHEN a.hire_date < a.year_end THEN ROW_NUMBER() OVER (
        PARTITION BY a.path, a.hire_date < a.year_end ORDER BY a.u_nh_term, a.employee_id) END AS nh_term_pick
FROM tenure_bands AS tb  -- the small side first
JOIN banded AS a ON tb.years = least(a.tenure, $band_top)
ORDER BY a.path, a.employee_id
