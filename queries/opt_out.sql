-- opt_out branch: after an auto-enrollment, with p = opt_out_rate x age multiplier (by age group),
-- dated min(AE date + window, Dec 31); the rate goes back to 0.
WITH decided AS (
    SELECT
        e.*,
        e.opt_out_rate * e.opt_out_mult AS opt_out_p,
        e.enrollment_category = 'auto_enrollment' AND e.u_opt_out < e.opt_out_rate * e.opt_out_mult AS opts_out
    FROM enrollment AS e
)
SELECT
    -- what opt_out is the last to read is not passed on
    d.* EXCLUDE (opt_out_window_days, opt_out_rate, opt_out_mult, u_opt_out, opt_out_p, opts_out),
    CASE WHEN d.opts_out THEN least(add_days(d.enrollment_on, d.opt_out_window_days), d.year_end) END AS opt_out_on,
    CASE WHEN d.opts_out THEN CAST(0.0 AS DOUBLE) END AS opt_out_deferral_rate,
    CASE WHEN d.opts_out THEN least(1.0, d.opt_out_p) END AS opt_out_probability
FROM decided AS d
