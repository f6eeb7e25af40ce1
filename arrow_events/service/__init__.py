"""arrow-events serve: simulations and SQL over Arrow Flight, each run in a process of its own."""
