-- escalation branch: enrolled before Jan 1, not opted out of escalation, 0 < rate < cap:
-- rate = min(cap, rate + step). Rates are kept to 6 decimals (half up) so repeated
-- steps do not accumulate float noise.
WITH decided AS (
    SELECT
        o.*,
        o.auto_escalation AND o.enrolled AND NOT o.is_new_hire AND NOT o.auto_escalation_opt_out
            AND o.deferral_rate > 0 AND o.deferral_rate < o.escalation_cap AS escalates
    FROM opt_out AS o
)
SELECT
    -- what escalation is the last to read is not passed on
    d.* EXCLUDE (auto_escalation, escalation_step, escalation_cap, escalation_date, escalates),
    CASE WHEN d.escalates THEN d.escalation_date END AS escalation_on,
    CASE WHEN d.escalates
         THEN least(d.escalation_cap, floor((d.deferral_rate + d.escalation_step) * 1e6 + 0.5) / 1e6) END
        AS escalation_deferral_rate
FROM decided AS d
