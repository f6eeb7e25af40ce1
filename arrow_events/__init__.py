"""arrow-events: fused workforce and retirement-plan event generation on Arrow + DataFusion.

Library first; the CLI is a thin layer over these functions:

    from arrow_events import load_config, read_census, run, simulate
    cfg = load_config(None)
    census = read_census("census.csv", 2025)  # or a pyarrow Table, a Polars DataFrame...
    run(cfg, "warehouse", census=polars_df, on_bad_rows="skip")  # checked, written, rejects listed
    for year in simulate(polars_df, "plan.toml", years="2025-2027", seed=7):
        pl.from_arrow(year.events)  # Arrow streams, computed shard by shard as they are read
    yearly_metrics("warehouse")  # the report: participation and employer cost per plan design and year
"""

from arrow_events.census.intake import Census, normalize_census, read_census, synthetic_census
from arrow_events.config import Config, dump_toml, load_config
from arrow_events.engine.state import CohortState, from_census, from_snapshot
from arrow_events.errors import UserError
from arrow_events.options import OptionError, RunOptions
from arrow_events.simulation import RunReport, run
from arrow_events.streams import Simulation, TableStream, YearStreams, simulate  # the function, not the module
from arrow_events.warehouse.report import yearly_metrics

__all__ = [
    "Census",
    "CohortState",
    "Config",
    "OptionError",
    "RunOptions",
    "RunReport",
    "UserError",
    "dump_toml",
    "from_census",
    "from_snapshot",
    "load_config",
    "normalize_census",
    "read_census",
    "run",
    "Simulation",
    "TableStream",
    "YearStreams",
    "simulate",
    "synthetic_census",
    "yearly_metrics",
]
