"""The benchmark harness: `python -m perf --help`."""
