-- contributions: what each member earned, deferred and cost the employer in the year
-- (docs/model.md §7), one row per plan design and member active at any time in the year
-- (a snapshot row), read off the member's row. Amounts are integer cents, each rounded half
-- up once, in integer arithmetic (a half cent is common: a 50% match of an odd number of
-- cents); the $*_limit_cents are the year's IRS limits.
WITH steps AS (
    -- the days worked, first_day to stop_day (exclusive), and the pay and deferral rate as steps
    -- that change at most twice each, in date order: promotion, then merit (the config keeps
    -- merit on or after promotion); escalation, then deferral change (likewise), which happen
    -- only to the enrolled, or enrollment, then opt-out, only to the others
    SELECT
        y.member_ix, y.design_rank, y.variant,
        y.termination_on IS NULL AS active_at_year_end,
        y.hours_worked,
        COALESCE(y.eligibility_date <= cal.year_end, false) AS eligible_at_year_end,
        cal.sim_year - date_part('year', y.birth_date) AS age_at_year_end,
        greatest(y.hire_date, cal.year_start) AS first_day,
        add_days(COALESCE(y.termination_on, cal.year_end), 1) AS stop_day,
        cal.days_in_year, cal.compensation_limit_cents, cal.deferral_limit_cents, cal.catch_up_limit_cents,
        cal.catch_up_60_63_limit_cents,
        y.compensation_cents AS pay,
        y.promotion_on, y.promotion_compensation_cents, y.merit_on, y.merit_compensation_cents,
        y.deferral_rate AS rate,
        COALESCE(y.escalation_on, y.enrollment_on) AS rate_first_change_on,
        CASE WHEN y.escalation_on IS NOT NULL THEN y.escalation_deferral_rate
             ELSE y.enrollment_deferral_rate END AS rate_first_change,
        COALESCE(y.deferral_change_on, y.opt_out_on) AS rate_second_change_on,
        CASE WHEN y.deferral_change_on IS NOT NULL THEN y.deferral_change_deferral_rate
             ELSE y.opt_out_deferral_rate END AS rate_second_change
    FROM calendar AS cal CROSS JOIN member_year AS y  -- the year's row; its limits ride along
),
earnings AS (
    -- pay_days: the days in the year x the pay earned (each day's pay rate, summed)
    SELECT
        t.*,
        t.pay * (least(COALESCE(t.promotion_on, t.stop_day), COALESCE(t.merit_on, t.stop_day)) - t.first_day)
            + COALESCE(t.promotion_compensation_cents * greatest(COALESCE(t.merit_on, t.stop_day) - t.promotion_on, 0),
                       0)
            + COALESCE(t.merit_compensation_cents * (t.stop_day - t.merit_on), 0) AS pay_days
    FROM steps AS t
),
sums AS (
    -- deferred_days: pay_days x 1,000,000 x the deferrals elected (each day's pay x the rate in
    -- millionths, summed); when the rate changes in the year, by udfs/accrual.py
    SELECT
        e.member_ix, e.design_rank, e.variant, e.active_at_year_end, e.eligible_at_year_end, e.pay_days, e.hours_worked,
        e.days_in_year, e.compensation_limit_cents,
        CASE WHEN e.rate_first_change_on IS NULL AND e.rate_second_change_on IS NULL
             THEN CAST(round(e.rate * 1000000) AS BIGINT) * e.pay_days
             ELSE deferred(e.first_day, e.stop_day,
                           e.pay, e.promotion_on, e.promotion_compensation_cents, e.merit_on, e.merit_compensation_cents,
                           e.rate, e.rate_first_change_on, e.rate_first_change,
                           e.rate_second_change_on, e.rate_second_change)
        END AS deferred_days,
        -- the 402(g) limit, with the catch-up for the age reached in the year
        e.deferral_limit_cents + CASE WHEN e.age_at_year_end BETWEEN 60 AND 63 THEN e.catch_up_60_63_limit_cents
                                   WHEN e.age_at_year_end >= 50 THEN e.catch_up_limit_cents
                                   ELSE 0 END AS deferral_limit
    FROM earnings AS e
),
capped AS (
    -- compensation above the 401(a)(17) limit counts for no plan purpose
    SELECT s.*, s.pay_days > s.compensation_limit_cents * s.days_in_year AS above_limit
    FROM sums AS s
),
elected AS (
    -- plan compensation, and the deferrals elected on it: above the limit the elected rates apply
    -- to each day's pay scaled down alike
    SELECT
        c.*,
        CASE WHEN c.above_limit THEN c.compensation_limit_cents
             ELSE (2 * c.pay_days + c.days_in_year) / (2 * c.days_in_year) END AS plan_compensation_cents,
        CASE WHEN c.above_limit
             THEN CAST(floor(CAST(c.deferred_days AS DOUBLE) * c.compensation_limit_cents
                             / (1000000.0 * c.pay_days) + 0.5) AS BIGINT)
             ELSE (c.deferred_days + 500000 * c.days_in_year) / (1000000 * c.days_in_year) END AS elected_cents
    FROM capped AS c
),
deferrals AS (
    SELECT
        e.*,
        least(e.elected_cents, e.deferral_limit) AS employee_deferrals_cents,
        e.elected_cents >= e.deferral_limit AS deferral_limit_reached
    FROM elected AS e
)
SELECT
    d.member_ix, d.design_rank,  -- the keys come from the snapshot row in the same place
    d.plan_compensation_cents,
    d.employee_deferrals_cents,
    -- the design's tiers applied to the year's effective deferral rate, up to its cap
    CASE WHEN d.employee_deferrals_cents = 0
              OR (p.match_requires_active_at_year_end AND NOT d.active_at_year_end)
              OR d.hours_worked < p.match_min_hours THEN 0  -- hours of service (0: no requirement)
         ELSE tiered_match(d.employee_deferrals_cents, d.plan_compensation_cents,
                           p.match_tier_min, p.match_tier_max, p.match_tier_rate, p.max_match_percentage)
    END AS employer_match_cents,
    CASE WHEN d.active_at_year_end AND d.eligible_at_year_end AND d.hours_worked >= p.core_min_hours
         THEN (p.core_rate_micro * d.plan_compensation_cents + 500000) / 1000000 ELSE 0 END AS employer_core_cents,
    d.deferral_limit_reached
FROM plan_contributions AS p  -- the small side first: DataFusion builds its hash table from it
JOIN deferrals AS d ON d.variant = p.variant AND d.design_rank = p.design_rank
