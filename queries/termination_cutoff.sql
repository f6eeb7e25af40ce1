-- termination_cutoff: the last of the drawn_terms smallest sampling keys over the whole
-- cohort (a global step). A member is drawn when its (sample_key, employee_id) is at or
-- below this pair, so every shard of the year decides on its own and exactly drawn_terms
-- are chosen. No row when nobody is drawn.
SELECT k.sample_key AS cutoff_key, k.employee_id AS cutoff_employee_id
FROM (
    SELECT sample_key, employee_id
    FROM termination_keys
    ORDER BY sample_key, employee_id
    LIMIT $drawn_terms
) AS k
ORDER BY k.sample_key DESC, k.employee_id DESC
LIMIT 1
