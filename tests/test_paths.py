"""Paths as data: path (config, seed) of any batch writes the bytes a lone run of that config and seed writes.

Two configs that differ in [scenario] values and in their plan designs' rules share batches of 1, 2 and
37 paths, with several shard sizes and thread counts; each kept path's warehouse is compared file by file
with ``arrow-events run``'s (``arrow_events.run``) of the same config and seed, and each path's metrics
with ``yearly_metrics`` of that warehouse.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyarrow.compute as pc
import pytest
from conftest import two_design_config

from arrow_events import run
from arrow_events.batch import simulate_paths
from arrow_events.census.intake import read_census
from arrow_events.census.synthetic import synthetic_census
from arrow_events.config import MatchTier
from arrow_events.engine.paths import Batch, batches
from arrow_events.options import RunOptions
from arrow_events.warehouse.report import yearly_metrics

YEARS = [2025, 2026]


def config_a():
    return two_design_config()


def config_b():
    """Other [scenario] values and other plan design rules, the same designs."""
    cfg = two_design_config().with_scenario(scenario_id="richer", growth=0.06, termination_rate=0.18, cola=0.025,
                                            promotion_base_rate=0.09, promotion_date="03-01", merit_date="08-01",
                                            hire_pay_spread=0.2)
    standard, voluntary = cfg.plan_designs
    standard.auto_enroll_rate, standard.opt_out_rate, standard.escalation_step = 0.06, 0.3, 0.02
    standard.match_tiers = [MatchTier(employee_min=0.0, employee_max=0.06, match_rate=1.0)]
    voluntary.waiting_days, voluntary.core_rate = 90, 0.03
    return cfg


@pytest.fixture(scope="module")
def census():
    return read_census(synthetic_census(400, 11, 2025), 2025)


def digests(warehouse: Path) -> dict[str, str]:
    """Every Parquet file of a warehouse by its path, as sha256."""
    return {str(p.relative_to(warehouse)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(warehouse.rglob("*.parquet"))}


@pytest.fixture(scope="module")
def lone(census, tmp_path_factory):
    """``lone(which, seed)``: the warehouse of a lone run of config a or b with that seed (made once)."""
    made: dict[tuple[str, int], Path] = {}

    def warehouse(which: str, seed: int) -> Path:
        if (which, seed) not in made:
            out = tmp_path_factory.mktemp(f"lone-{which}-{seed}") / "warehouse"
            run(config_a() if which == "a" else config_b(), out, YEARS, census, seed=seed)
            made[(which, seed)] = out
        return made[(which, seed)]

    return warehouse


def mixed(n: int) -> list[tuple[str, int]]:
    """``n`` paths alternating the two configs, seeds 1.. ."""
    return [("ab"[i % 2], i + 1) for i in range(n)]


@pytest.mark.parametrize(("size", "kept", "options"), [
    (1, [0], RunOptions()),
    (2, [0, 1], RunOptions(threads=1)),
    # shards of 1,000 members straddle paths (each path ~400-470 members); 2 threads
    (37, [0, 1, 18, 35, 36], RunOptions(shard_rows=1000, threads=2)),
])
def test_a_path_of_any_batch_writes_the_bytes_of_its_lone_run(census, lone, tmp_path, size, kept, options):
    paths = mixed(size)
    configs = [(config_a() if which == "a" else config_b()).with_scenario(seed=seed) for which, seed in paths]
    assert len(Batch.of(configs).variants) == min(size, 2)  # one plan for both configs
    keep = {p: tmp_path / f"path-{p}" for p in kept}
    metrics = simulate_paths(configs, YEARS, census, options, keep)
    assert sorted(set(metrics["path"].to_pylist())) == list(range(size))
    for p in kept:
        reference = lone(*paths[p])
        files = digests(keep[p])
        assert len(files) == 3 * len(YEARS) and files == digests(reference), paths[p]
        mine = metrics.filter(pc.equal(metrics["path"], p)).drop_columns(["path"])
        assert mine.equals(yearly_metrics(reference)), paths[p]


def test_the_paths_draws_are_their_own(census):
    # the same config and seed twice in a batch: the same metrics; another seed: others
    cfg = config_a()
    metrics = simulate_paths([cfg.with_scenario(seed=5), cfg.with_scenario(seed=6), cfg.with_scenario(seed=5)],
                             YEARS, census)
    by_path = [metrics.filter(pc.equal(metrics["path"], p)).drop_columns(["path"]) for p in range(3)]
    assert by_path[0].equals(by_path[2]) and not by_path[0].equals(by_path[1])


def test_configs_that_cannot_share_a_plan_go_to_separate_batches():
    a, b = config_a(), config_b()
    other_levels = config_a()
    other_levels.levels.merit_rate = [0.03, 0.04, 0.05, 0.06, 0.07]  # not a [scenario] value: another batch
    one_design = config_a()
    one_design.plan_designs.pop()  # other designs: another batch
    configs = [a, b, other_levels, one_design, b.with_scenario(seed=9)]
    assert batches(configs, 10) == [[0, 1, 4], [2], [3]]
    assert batches(configs, 2) == [[0, 1], [4], [2], [3]]
    with pytest.raises(ValueError, match="differ only in"):
        Batch.of([a, other_levels])
