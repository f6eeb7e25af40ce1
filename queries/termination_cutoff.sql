-- termination_cutoff: the last of the drawn_terms smallest sampling keys over the whole
-- cohort (a global step), ties by employee_id. A member is drawn when its (sample_key,
-- employee_id) is at or below this pair, so every shard of the year decides on its own and
-- exactly drawn_terms are chosen. No row when nobody is drawn.
SELECT k.sample_key AS cutoff_key, k.employee_id AS cutoff_employee_id
FROM (
    -- numbering the whole sorted cohort is faster in DataFusion than a top-k of this size
    SELECT
        r.sample_key,
        r.employee_id,
        ROW_NUMBER() OVER (ORDER BY r.sample_key, r.employee_id) AS draw_order
    FROM rng AS r
    WHERE NOT r.scheduled_this_year  -- those with a key (a filter on the key itself would draw it twice)
) AS k
WHERE k.draw_order <= $drawn_terms
ORDER BY k.draw_order DESC
LIMIT 1
