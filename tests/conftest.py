from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from arrow_events import load_config, run
from arrow_events.config import PlanDesign
from arrow_events.warehouse.writer import read_partition

SAMPLES = Path(__file__).resolve().parent / "data"  # everything the tests read lives in the project
ROOT = SAMPLES.parent.parent  # the checkout: examples/, README.md, docs/


def two_design_config():
    """Defaults plus a second design with auto-enrollment off and no escalation."""
    cfg = load_config(None)
    cfg.plan_designs.append(
        PlanDesign(plan_design_id="voluntary_only", auto_enroll=False, auto_escalation=False, match_ceiling=0.04)
    )
    return cfg


@pytest.fixture(scope="session")
def default_run(tmp_path_factory):
    """The main job: 5 years on the built-in census, two plan designs side by side."""
    out = tmp_path_factory.mktemp("warehouse")
    cfg = two_design_config()
    report = run(cfg, out)
    return cfg, out, report


def read_year(out: Path, table: str, year: int) -> pa.Table:
    return read_partition(out, table, year)
