"""A year's manifest: what the single writer commits beside the year's files, and the one way to read it.

Written as ``manifests/simulation_year=<t>.json`` (and, while a year commits, as the staging
journal). Readers go through ``read_manifest``: validate, the config-drift warning and the
recovery of an interrupted commit. Keys a manifest lacks (one written by an earlier version,
or by the DuckDB peer, which records only its engine) read as their defaults.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


@dataclass
class YearManifest:
    simulation_year: int = 0
    scenario_id: str = ""
    plan_design_ids: list[str] = field(default_factory=list)
    seed: int | None = None
    config_sha256: str | None = None
    config_toml: str | None = None  # the whole config the year was made with
    engine: str = ""
    executor: str = "local"  # where the shards ran: "local" or "ray" (the same bytes either way)
    threads: int | None = None
    memory_limit_bytes: int | None = None
    shard_rows: int | None = None
    shards: int | None = None
    input: str = ""  # the census, or "snapshot <t-1>"
    census: dict[str, Any] | None = None  # the start year's: source, rows read, kept and set aside
    versions: dict[str, str] = field(default_factory=dict)
    workforce_counts: dict[str, int] = field(default_factory=dict)
    events_by_type: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    # table -> {"path", "sha256", "rows", ...}: filled in by the writer as it commits the year
    files: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        if data["census"] is None:  # only the start year says where its cohort came from
            del data["census"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> YearManifest:
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def read_manifest(path: Path) -> YearManifest:
    """The manifest at ``path``; ValueError (or UnicodeDecodeError) when it is not one, OSError when unreadable."""
    return YearManifest.from_json(json.loads(path.read_text(encoding="utf-8")))
