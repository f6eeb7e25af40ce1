"""Paths as data: the (config, seed) pairs a year computes in one plan.

A path is one simulation: a config, its seed in ``[scenario].seed``. A batch is paths whose
configs agree on everything but their ``[scenario]`` values and their plan designs' rules (the
calendar, the levels, bands and limits, the designs' ids): each path's rows carry its number,
and what differs between paths is rows of the parameter tables (``scenarios``, ``plan_designs``
... keyed by ``variant``, a distinct config of the batch; ``paths`` gives each path its variant
and seed). A lone run is a batch of one path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from arrow_events.config import Config

# [scenario] values that set the calendar of the whole batch (the other ones are per variant)
_BATCH_SCENARIO = ("start_year",)


def batch_key(cfg: Config) -> str:
    """What the configs of one batch share: the config less its [scenario] values (but the start year) and
    its plan designs' rules (but their ids, and whether hours of service are tracked)."""
    whole = cfg.model_dump(exclude={"engine"})
    whole["scenario"] = {k: whole["scenario"][k] for k in _BATCH_SCENARIO}
    whole["plan_designs"] = {"ids": sorted(d.plan_design_id for d in cfg.plan_designs),
                             "hours_of_service": cfg.hours_of_service}
    return json.dumps(whole, sort_keys=True, separators=(",", ":"))


def variant_key(cfg: Config) -> str:
    """A config less its seed: paths of one variant differ only in their draws."""
    return cfg.with_scenario(seed=0).digest()


@dataclass(frozen=True)
class Batch:
    """Paths computed together, each a config with its seed, numbered 0.. in the order given."""

    paths: tuple[Config, ...]
    variants: tuple[Config, ...]  # the distinct configs less their seeds, in first-seen order
    variant_of: tuple[int, ...]  # each path's variant

    @classmethod
    def of(cls, configs: Config | Iterable[Config]) -> Batch:
        paths = (configs,) if isinstance(configs, Config) else tuple(configs)
        if not paths:
            raise ValueError("a batch has at least one path")
        key = batch_key(paths[0])
        variants: dict[str, int] = {}
        firsts: list[Config] = []
        of: list[int] = []
        for cfg in paths:
            if batch_key(cfg) != key:
                raise ValueError("the paths of a batch differ only in [scenario] values and plan design rules")
            v = variants.setdefault(variant_key(cfg), len(variants))
            if v == len(firsts):
                firsts.append(cfg)
            of.append(v)
        return cls(paths, tuple(firsts), tuple(of))

    @property
    def base(self) -> Config:
        """The first path's config: what the whole batch shares is read from it."""
        return self.paths[0]

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def seeds(self) -> list[int]:
        return [cfg.scenario.seed for cfg in self.paths]


def batches(configs: Sequence[Config], size: int) -> list[list[int]]:
    """Indices of ``configs`` grouped into batches of at most ``size`` paths that can run together,
    in the order given within each group."""
    groups: dict[str, list[int]] = {}
    for i, cfg in enumerate(configs):
        groups.setdefault(batch_key(cfg), []).append(i)
    return [g[i:i + size] for g in groups.values() for i in range(0, len(g), size)]
