"""Where a year's shards run: here (local) or as Ray tasks; and the one process pool that runs
whole simulations for the Flight service and sweeps."""
