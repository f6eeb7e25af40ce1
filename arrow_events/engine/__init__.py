"""The engine: one simulation year as SQL over Arrow, from a cohort to contract tables.

params (the config as parameter tables) -> context (a DataFusion session) -> state (the
cohort) -> year (the global step, then shards composed from queries/) -> emit (events read
off the member rows). It knows nothing of executors, warehouses or processes.
"""
