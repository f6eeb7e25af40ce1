-- contributions: what each member earned, deferred and cost the employer in the year
-- (DOMAIN.md section 7), one row per plan design and member active at any time in the year,
-- read off the member's row. Amounts are integer cents, each rounded half up once, in integer
-- arithmetic (a half cent is common: a 50% match of an odd number of cents); the
-- $*_limit_cents are the year's IRS limits.
WITH worked AS (
    SELECT
        y.member_ix, y.design_rank, y.plan_design_id, y.employee_id,
        y.termination_on IS NULL AS active_at_year_end,
        COALESCE(y.eligibility_date <= $year_end, false) AS eligible_at_year_end,
        $sim_year - date_part('year', y.birth_date) AS age_at_year_end,
        greatest(y.hire_date, $year_start) AS first_day,
        COALESCE(y.termination_on, $year_end) AS last_day,
        -- the pay rate: the Jan-1 (or hiring) rate, promotion's and merit's from their dates
        CAST(y.compensation_cents AS DOUBLE) AS pay,
        [y.promotion_on, y.merit_on] AS pay_change_on,
        [CAST(y.promotion_compensation_cents AS DOUBLE), CAST(y.merit_compensation_cents AS DOUBLE)] AS pay_change,
        -- the deferral rate: the Jan-1 rate, then each plan event's, same-day ones in event order
        y.deferral_rate AS rate,
        [y.enrollment_on, y.opt_out_on, y.escalation_on, y.deferral_change_on] AS rate_change_on,
        [y.enrollment_deferral_rate, y.opt_out_deferral_rate, y.escalation_deferral_rate,
         y.deferral_change_deferral_rate] AS rate_change
    FROM member_year AS y
),
sums AS (
    -- day sums: pay_days = days in the year x pay earned, deferred_days = that x 1,000,000 x deferrals
    SELECT
        w.member_ix, w.design_rank, w.plan_design_id, w.employee_id,
        w.active_at_year_end, w.eligible_at_year_end,
        earned(w.first_day, w.last_day, w.pay, w.pay_change_on, w.pay_change) AS pay_days,
        deferred(w.first_day, w.last_day, w.pay, w.pay_change_on, w.pay_change,
                 w.rate, w.rate_change_on, w.rate_change) AS deferred_days,
        $deferral_limit_cents + CASE WHEN w.age_at_year_end BETWEEN 60 AND 63 THEN $catch_up_60_63_limit_cents
                                     WHEN w.age_at_year_end >= 50 THEN $catch_up_limit_cents
                                     ELSE 0 END AS deferral_limit
    FROM worked AS w
),
elected AS (
    -- compensation above the 401(a)(17) limit counts for no plan purpose: the elected rates apply
    -- to plan compensation, each day's pay scaled down alike
    SELECT
        s.*,
        s.pay_days > $compensation_limit_cents * $days_in_year AS above_limit,
        CASE WHEN s.pay_days > $compensation_limit_cents * $days_in_year THEN $compensation_limit_cents
             ELSE (2 * s.pay_days + $days_in_year) / (2 * $days_in_year) END AS plan_compensation_cents,
        CASE WHEN s.pay_days > $compensation_limit_cents * $days_in_year
             THEN CAST(floor(CAST(s.deferred_days AS DOUBLE) * $compensation_limit_cents
                             / (1000000.0 * s.pay_days) + 0.5) AS BIGINT)
             ELSE (s.deferred_days + 500000 * $days_in_year) / (1000000 * $days_in_year) END AS elected_cents
    FROM sums AS s
),
deferrals AS (
    SELECT
        e.*,
        least(e.elected_cents, e.deferral_limit) AS employee_deferrals_cents,
        e.elected_cents >= e.deferral_limit AS deferral_limit_reached
    FROM elected AS e
)
SELECT
    d.member_ix, d.design_rank,
    $scenario_id AS scenario_id,
    d.plan_design_id,
    d.employee_id,
    d.plan_compensation_cents,
    d.employee_deferrals_cents,
    -- the design's tiers applied to the year's effective deferral rate, up to its cap
    CASE WHEN p.match_requires_active_at_year_end AND NOT d.active_at_year_end THEN 0
         ELSE tiered_match(d.employee_deferrals_cents, d.plan_compensation_cents,
                           p.match_tier_min, p.match_tier_max, p.match_tier_rate, p.max_match_percentage)
    END AS employer_match_cents,
    CASE WHEN d.active_at_year_end AND d.eligible_at_year_end
         THEN (p.core_rate_micro * d.plan_compensation_cents + 500000) / 1000000 ELSE 0 END AS employer_core_cents,
    d.deferral_limit_reached
FROM plan_contributions AS p  -- the small side first: DataFusion builds its hash table from it
JOIN deferrals AS d ON d.design_rank = p.design_rank
