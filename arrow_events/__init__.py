"""arrow-events: fused workforce and retirement-plan event generation on Arrow + DataFusion.

Library first; the command line is a thin layer over these functions (docs/api.md documents each):

    from arrow_events import load_config, read_census, run, simulate, yearly_metrics
    cfg = load_config("examples/plan_designs.toml")        # or None for the defaults
    census = read_census("examples/census.csv", 2025)      # or a pyarrow Table, a Polars DataFrame...
    run(cfg, "warehouse", census=census)                   # checked, written, rejects listed
    for year in simulate(census, cfg, years="2025-2026"):  # Arrow streams, computed as they are read
        year.events.to_arrow()
    yearly_metrics("warehouse")                            # the report: per plan design and year
"""

from arrow_events.batch import simulate_paths
from arrow_events.census.intake import Census, normalize_census, read_census, synthetic_census
from arrow_events.census.synthetic import write_census
from arrow_events.config import Config, dump_toml, load_config
from arrow_events.engine.state import CohortState, from_census, from_snapshot
from arrow_events.errors import UserError
from arrow_events.options import OptionError, RunOptions
from arrow_events.simulation import RunReport, YearReport, run
from arrow_events.streams import Simulation, TableStream, YearStreams, simulate  # the function, not the module
from arrow_events.sweep import distribution, plan_sweep, run_sweep
from arrow_events.warehouse.compare import compare_warehouses
from arrow_events.warehouse.comparison import compare_metrics
from arrow_events.warehouse.report import workforce_metrics, write_report, yearly_metrics
from arrow_events.warehouse.sql import query
from arrow_events.warehouse.validate import validate_warehouse

__all__ = [
    # configuration and input
    "Config",
    "load_config",
    "dump_toml",
    "Census",
    "read_census",
    "normalize_census",
    "synthetic_census",
    "write_census",
    # running
    "RunOptions",
    "run",
    "RunReport",
    "YearReport",
    "simulate",
    "Simulation",
    "YearStreams",
    "TableStream",
    "CohortState",
    "from_census",
    "from_snapshot",
    # reading a warehouse
    "yearly_metrics",
    "workforce_metrics",
    "write_report",
    "compare_metrics",
    "query",
    "validate_warehouse",
    "compare_warehouses",
    # sweeps
    "plan_sweep",
    "simulate_paths",
    "run_sweep",
    "distribution",
    # errors
    "UserError",
    "OptionError",
]
