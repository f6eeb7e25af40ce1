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

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

# Each public name and the module it comes from: loaded at first use (PEP 562), so that `import
# arrow_events`, and the command line, which is a package module, do not pay for DataFusion, pydantic
# and every command's modules before they are needed.
_EXPORTS = {
    "simulate_paths": "arrow_events.batch",
    "Census": "arrow_events.census.intake",
    "normalize_census": "arrow_events.census.intake",
    "read_census": "arrow_events.census.intake",
    "synthetic_census": "arrow_events.census.synthetic",
    "write_census": "arrow_events.census.synthetic",
    "Config": "arrow_events.config",
    "dump_toml": "arrow_events.config",
    "load_config": "arrow_events.config",
    "CohortState": "arrow_events.engine.state",
    "from_census": "arrow_events.engine.state",
    "from_snapshot": "arrow_events.engine.state",
    "UserError": "arrow_events.errors",
    "OptionError": "arrow_events.options",
    "RunOptions": "arrow_events.options",
    "RunReport": "arrow_events.simulation",
    "YearReport": "arrow_events.simulation",
    "run": "arrow_events.simulation",
    "Simulation": "arrow_events.streams",
    "TableStream": "arrow_events.streams",
    "YearStreams": "arrow_events.streams",
    "simulate": "arrow_events.streams",  # the function, not the module
    "distribution": "arrow_events.sweep",
    "plan_sweep": "arrow_events.sweep",
    "run_sweep": "arrow_events.sweep",
    "compare_warehouses": "arrow_events.warehouse.compare",
    "compare_metrics": "arrow_events.warehouse.comparison",
    "workforce_metrics": "arrow_events.warehouse.report",
    "write_report": "arrow_events.warehouse.report",
    "yearly_metrics": "arrow_events.warehouse.report",
    "query": "arrow_events.warehouse.sql",
    "validate_warehouse": "arrow_events.warehouse.validate",
}

if TYPE_CHECKING:  # the same names, for type checkers and editors
    from arrow_events.batch import simulate_paths
    from arrow_events.census.intake import Census, normalize_census, read_census
    from arrow_events.census.synthetic import synthetic_census, write_census
    from arrow_events.config import Config, dump_toml, load_config
    from arrow_events.engine.state import CohortState, from_census, from_snapshot
    from arrow_events.errors import UserError
    from arrow_events.options import OptionError, RunOptions
    from arrow_events.simulation import RunReport, YearReport, run
    from arrow_events.streams import Simulation, TableStream, YearStreams, simulate
    from arrow_events.sweep import distribution, plan_sweep, run_sweep
    from arrow_events.warehouse.compare import compare_warehouses
    from arrow_events.warehouse.comparison import compare_metrics
    from arrow_events.warehouse.report import workforce_metrics, write_report, yearly_metrics
    from arrow_events.warehouse.sql import query
    from arrow_events.warehouse.validate import validate_warehouse


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'arrow_events' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # once: later lookups find it without coming here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


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
