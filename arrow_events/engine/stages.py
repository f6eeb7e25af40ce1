"""A year's relations (each queries/<name>.sql) in dependency order, and which of them an engine holds.

Kept apart from arrow_events.engine.year, which runs them, because this needs only the SQL files:
the command line names the relations (``explain --dump``) without loading DataFusion.
"""

from __future__ import annotations

from arrow_events.queries import in_dependency_order, reads

needs = reads  # what a relation needs first: what it reads (nothing is bound from one relation to the next)

# The global step and a shard's relations (each name is queries/<name>.sql), in dependency order.
GLOBAL_STAGES = in_dependency_order({"hazards", "cohort_t", "rng", "year_counts", "termination_cutoff", "hire",
                                     "path_year"}, needs)
# the global step's results a shard reads: ``hire`` sliced to the shard, ``path_year`` whole (a row a path)
SHIPPED = {"hire", "path_year"}
STAGES = in_dependency_order({"cohort_t", "rng", "members", "promotion", "merit", "termination", "plan_members",
                              "eligibility", "enrollment", "opt_out", "escalation", "deferral_change", "member_year"},
                             needs)
BRANCHES = ["hire", "termination", "promotion", "merit", "eligibility", "enrollment", "opt_out", "escalation",
            "deferral_change"]
# what explain can write to Parquet: the year's inputs, a shard's relations and its contract tables
DUMPABLE = ["cohort", "hire", *STAGES, "events", "snapshot"]


def shared(stages: list[str]) -> set[str]:
    """The relations more than one of ``stages`` reads: what the fused engine materializes."""
    readers = [r for name in stages for r in reads(name)]
    return {name for name in stages if readers.count(name) > 1}


# what the global step leaves for the shards to read (not the hires: they are collected, in
# (path, employee_id) order, and cut up; a kept relation may come back in any order)
KEPT = {name for name in GLOBAL_STAGES if name not in STAGES and name not in SHIPPED
        and any(name in reads(s) for s in STAGES)}
# The global step's shared relations are held, but cohort_t stays a view: each of its three readers
# needs a few of its columns and DataFusion computes only those, where holding it would keep every
# column of the whole cohort (0.7 GB at 5M employees) for the rest of the year.
GLOBAL_MATERIALIZED = KEPT | (shared(GLOBAL_STAGES) - {"cohort_t"})
# A context of a shard's own (shard_tables) computes the kept relations again rather than receiving them:
# that is only the same relation when it reads nothing of the cohort.
KEPT_STAGES = [name for name in GLOBAL_STAGES if name in KEPT]
if any(needs(name) & ({"cohort", *GLOBAL_STAGES} - KEPT) for name in KEPT):
    raise RuntimeError(f"the global step keeps relations that read the cohort: {sorted(KEPT)}")
SHARD_MATERIALIZED = shared(STAGES)
