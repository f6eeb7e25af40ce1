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
        COALESCE(c.scheduled_termination_date BETWEEN $year_start AND $year_end, false) AS scheduled_this_year
    FROM cohort AS c
)
SELECT
    a.employee_id,
    employee_key(a.employee_id) AS employee_key,
    a.birth_date,
    a.hire_date,
    a.level_id,
    a.compensation_cents,
    a.auto_escalation_opt_out,
    a.eligibility_override,
    a.scheduled_termination_date,
    a.scheduled_this_year,
    a.age,
    a.tenure,
    ab.band AS age_band,
    tb.band AS tenure_band,
    a.hired_last_year,
    tb.termination_mult * ab.termination_mult * l.termination_mult AS termination_weight,
    least(1.0, $promotion_base_rate * tb.promotion_mult * ab.promotion_mult * l.promotion_mult) AS promotion_p
FROM aged AS a
JOIN levels AS l ON l.level_id = a.level_id
JOIN age_bands AS ab ON ab.years = least(a.age, $band_top)
JOIN tenure_bands AS tb ON tb.years = least(a.tenure, $band_top)
