-- termination_cutoff: per path, the last of the drawn_terms smallest sampling keys over the
-- path's whole cohort (a global step), ties by employee_id; all of them when there are fewer
-- (the n_active - scheduled_terms with a key). A member is drawn when its (sample_key,
-- employee_id) is at or below this pair, so every shard of the year decides on its own and
-- exactly drawn_terms are chosen. No row for a path where nobody is drawn.
WITH ordered AS (
    -- numbering the whole sorted cohort is faster in DataFusion than a top-k of this size
    SELECT
        r.path,
        r.sample_key,
        r.employee_id,
        ROW_NUMBER() OVER (PARTITION BY r.path ORDER BY r.sample_key, r.employee_id) AS draw_order
    FROM rng AS r
    WHERE NOT r.scheduled_this_year  -- those with a key (a filter on the key itself would draw it twice)
)
SELECT o.path, o.sample_key AS cutoff_key, o.employee_id AS cutoff_employee_id
FROM year_counts AS c  -- the small side first: DataFusion builds its hash table from it
JOIN ordered AS o ON o.path = c.path AND o.draw_order = least(c.drawn_terms, c.n_active - c.scheduled_terms)
