-- deferral_change branch: enrolled at Jan 1 with 0 < rate < match ceiling (the rate
-- after any escalation earlier in the year): with the design's probability the rate
-- moves up to the ceiling.
WITH decided AS (
    SELECT
        s.*,
        s.enrolled AND NOT s.is_new_hire
            AND COALESCE(s.escalation_deferral_rate, s.deferral_rate) > 0
            AND COALESCE(s.escalation_deferral_rate, s.deferral_rate) < s.match_ceiling
            AND s.u_defer < s.deferral_change_rate AS changes
    FROM escalation AS s
)
SELECT
    -- what deferral_change is the last to read is not passed on
    d.* EXCLUDE (enrolled, match_ceiling, deferral_change_rate, deferral_change_date, u_defer, changes),
    CASE WHEN d.changes THEN d.deferral_change_date END AS deferral_change_on,
    CASE WHEN d.changes THEN d.match_ceiling END AS deferral_change_deferral_rate,
    CASE WHEN d.changes THEN d.deferral_change_rate END AS deferral_change_probability
FROM decided AS d
