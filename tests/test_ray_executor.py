"""The ray executor: shards as Ray tasks write the bytes the local executor writes, whatever the shard count.

One local Ray (2 CPUs) serves the whole module: starting one costs seconds, so every run here joins it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import arrow_events
from arrow_events import OptionError, RunOptions, load_config, read_census, run, synthetic_census
from arrow_events.census.synthetic import write_census
from arrow_events.cli import main
from tests.conftest import read_year
from tests.test_cli import invoke
from tests.test_output import digests

YEARS = [2025, 2026]
# 1,200 employees and their 268 hires of 2025: 1,468 members, in 1, 3 and 7 shards
SHARD_COUNTS = {1: None, 3: 500, 7: 214}


@pytest.fixture(scope="module")
def ray_cluster():
    from arrow_events.execute.ray_tasks import ray_session

    with ray_session(num_cpus=2):
        yield


@pytest.fixture(scope="module")
def census_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ray-census") / "census.parquet"
    write_census(synthetic_census(1200, 3, 2025), path)
    return path


@pytest.fixture(scope="module")
def local_run(census_path, tmp_path_factory) -> Path:
    """The reference: the local executor, one shard a year."""
    out = tmp_path_factory.mktemp("local")
    run(load_config(None), out, YEARS, read_census(census_path, 2025), options=RunOptions())
    return out


def shards_of_first_year(out: Path) -> int:
    return json.loads((out / "manifests" / "simulation_year=2025.json").read_text())["shards"]


@pytest.mark.parametrize("shards", [1, 7])
def test_ray_tasks_write_the_local_bytes(ray_cluster, census_path, local_run, tmp_path, shards):
    options = RunOptions(shard_rows=SHARD_COUNTS[shards], executor="ray")
    run(load_config(None), tmp_path, YEARS, read_census(census_path, 2025), options=options)
    assert shards_of_first_year(tmp_path) == shards
    want = digests(local_run)
    assert len(want) == 6 and digests(tmp_path) == want  # 2 years x events, snapshot, contributions


def test_the_command_line_runs_on_ray_and_says_so_in_the_manifest(ray_cluster, census_path, local_run, tmp_path):
    r = invoke("run", "--census", str(census_path), "--years", "2025-2026", "--shard-rows", str(SHARD_COUNTS[3]),
               "--executor", "ray", "--out", "wh", cwd=tmp_path)
    assert r.exit_code == 0, r.output
    assert shards_of_first_year(tmp_path / "wh") == 3
    assert digests(tmp_path / "wh") == digests(local_run)
    manifest = json.loads((tmp_path / "wh" / "manifests" / "simulation_year=2026.json").read_text())
    assert manifest["executor"] == "ray"
    import ray

    assert ray.is_initialized()  # the run joined the session it found, and left it up


def test_streams_on_ray_carry_the_written_rows(ray_cluster, census_path, local_run):
    # one year: the runs above carry a year into the next
    (year,) = arrow_events.simulate(census_path, years=YEARS[:1], shard_rows=SHARD_COUNTS[3], executor="ray")
    assert year.events.to_arrow().equals(read_year(local_run, "events", year.year))
    assert year.snapshot.to_arrow().equals(read_year(local_run, "snapshot", year.year))


def test_without_ray_the_command_line_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError, as when not installed
    r = CliRunner().invoke(main, ["run", "--executor", "ray", "--years", "2025", "--out", str(tmp_path / "wh")])
    assert r.exit_code == 2
    assert r.stderr == "error: --executor ray needs Ray: pip install 'arrow-events[ray]'\n"
    assert not (tmp_path / "wh").exists()  # refused before the warehouse was created


def test_a_ray_address_without_the_ray_executor_is_refused(tmp_path):
    r = CliRunner().invoke(main, ["run", "--ray-address", "auto", "--out", str(tmp_path / "wh")])
    assert r.exit_code == 2 and "--ray-address: goes with --executor ray" in r.stderr
    with pytest.raises(OptionError, match="executor: expected one of local, ray, got 'dask'"):
        RunOptions(executor="dask")
