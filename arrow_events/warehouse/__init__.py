"""The warehouse on disk: layout, the single writer's crash-safe commit and lock, Parquet
writing, manifests, and what reads a warehouse back (validate, compare, report, read-only SQL)."""
