"""On a real multi-node Ray cluster, a sweep and a run write the bytes they write locally, from tasks that ran
on both worker nodes.

One cluster (``ray.cluster_utils.Cluster``: a head and two worker nodes, each its own raylet, object store
and worker processes, all on loopback) serves the module; each test joins it by its address, as
``--ray-address HOST:PORT`` does, and leaves it. The head has no CPU, as on a cluster whose head only
coordinates, so every task runs on one of the two one-CPU worker nodes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from arrow_events import load_config, read_census, run, synthetic_census
from arrow_events.batch import simulate_paths
from arrow_events.options import RunOptions
from tests.test_cli import invoke
from tests.test_output import digests

LOOPBACK = "127.0.0.1"
SEEDS, KEPT, YEARS = "1-4", (2, 3), "2025-2026"
SCENARIOS = {"baseline": "", "fast_growth": "[scenario]\ngrowth = 0.06\n"}  # a config file each


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    import ray
    from ray._common.utils import get_ray_address_file
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    # The machine is shared: a `ray.init()` or `--ray-address auto` elsewhere must not find this cluster,
    # whose address Cluster writes to Ray's address file (and deletes on shutdown).
    address_file = Path(get_ray_address_file(None))
    found = address_file.read_text() if address_file.is_file() else None
    with pytest.MonkeyPatch.context() as mp:
        # ray.init turns a loopback address into the machine's outward IP, where this cluster does not
        # listen, unless Ray is in its one-machine mode (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, read on import)
        mp.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
        c = Cluster(initialize_head=True, connect=False,
                    head_node_args={"num_cpus": 0, "node_ip_address": LOOPBACK, "include_dashboard": False})
        try:
            _put_back(address_file, found)
            for _ in range(2):
                c.add_node(num_cpus=1, node_ip_address=LOOPBACK)
            c.wait_for_nodes()
            yield c
        finally:
            if ray.is_initialized():  # a test that failed inside a session
                ray.shutdown()
            c.shutdown()
            _put_back(address_file, found)


def _put_back(address_file: Path, text: str | None) -> None:
    if text is None:
        address_file.unlink(missing_ok=True)
    else:
        address_file.write_text(text)


def worker_nodes(cluster) -> set[str]:
    return {node.node_id for node in cluster.worker_nodes}


def task_nodes(cluster) -> dict[bytes, str]:
    """The node each task of the cluster ran on, by task id (the drivers' own entries, nameless, left out).
    From the head's task events (a Ray internal, as ``ray.timeline`` reads them), which outlive the jobs."""
    nodes = {}
    for event in cluster.global_state._get_all_task_events():
        if event.task_info.func_or_class_name and event.state_updates.node_id:
            nodes[event.task_id] = event.state_updates.node_id.hex()
    return nodes


def nodes_of_tasks_since(cluster, before: dict[bytes, str]) -> set[str]:
    """The nodes the tasks started since ``before`` ran on; the workers report their tasks' events every second
    or so, hence the wait."""
    deadline = time.monotonic() + 10
    while True:
        nodes = {node for task, node in task_nodes(cluster).items() if task not in before}
        if nodes >= worker_nodes(cluster) or time.monotonic() > deadline:
            return nodes
        time.sleep(0.5)


def test_the_cluster_is_a_head_and_two_workers(cluster):
    alive = [node for node in cluster.global_state.node_table() if node["Alive"]]
    assert len(alive) == 3
    assert sorted(node["Resources"].get("CPU", 0) for node in alive) == [0, 1, 1]
    assert len(worker_nodes(cluster)) == 2


def sweep(cwd: Path, out: str, *execution: str) -> dict[str, str]:
    """Two scenarios x 4 seeds x 2 years on the built-in census, seeds 2 and 3 with their warehouses; the sha256
    of every Parquet file the sweep wrote, by its path in ``out``."""
    configs = []
    for name, text in SCENARIOS.items():
        (cwd / f"{name}.toml").write_text(text)
        configs += ["--config", f"{name}.toml"]
    r = invoke("sweep", "--seeds", SEEDS, *configs, "--years", YEARS,
               "--keep-warehouses", ",".join(map(str, KEPT)), "--out", out, *execution, cwd=cwd)
    assert r.exit_code == 0, r.output
    return digests(cwd / out)


def test_a_sweep_on_the_cluster_writes_the_local_bytes(cluster, tmp_path):
    local = sweep(tmp_path, "local", "--workers", "2")
    before = task_nodes(cluster)
    on_ray = sweep(tmp_path, "ray", "--executor", "ray", "--ray-address", cluster.address)
    assert on_ray == local
    # what was compared: the distribution, the paths' metrics (the sweep's and each batch's: the two
    # scenarios share batches), and the kept runs' whole warehouses
    assert {"distribution.parquet", "metrics.parquet"} <= set(local)
    assert len([path for path in local if path.startswith("batches/")]) == 2  # 8 paths, 2 workers
    assert pq.read_table(tmp_path / "local" / "metrics.parquet").num_rows == len(SCENARIOS) * 4 * 2
    for scenario in SCENARIOS:
        for seed in KEPT:
            kept = [path for path in local if path.startswith(f"runs/{scenario}/seed={seed}/warehouse/")]
            assert len(kept) == 6, kept  # 2 years x events, snapshot, contributions
    assert nodes_of_tasks_since(cluster, before) == worker_nodes(cluster)


def test_a_batchs_shards_on_the_cluster_give_the_local_bytes(cluster, tmp_path):
    # paths of two configs in one batch, its shards (1,500 members of the 4 paths' ~5,800: they straddle
    # paths) as Ray tasks
    cfg = load_config(None)
    configs = [cfg.with_scenario(seed=s, growth=0.03 + 0.01 * (s % 2)) for s in range(1, 5)]
    census = read_census(synthetic_census(1200, 3, 2025), 2025)
    local = simulate_paths(configs, [2025, 2026], census, keep={1: tmp_path / "local"},
                           options=RunOptions(shard_rows=1500))
    before = task_nodes(cluster)
    on_ray = simulate_paths(configs, [2025, 2026], census, keep={1: tmp_path / "ray"},
                            options=RunOptions(shard_rows=1500, executor="ray", ray_address=cluster.address))
    assert on_ray.equals(local)
    assert len(digests(tmp_path / "local")) == 6 and digests(tmp_path / "ray") == digests(tmp_path / "local")
    assert nodes_of_tasks_since(cluster, before) == worker_nodes(cluster)


def test_a_run_on_the_cluster_writes_the_local_bytes(cluster, tmp_path):
    cfg = load_config(None)
    run(cfg, tmp_path / "local", [2025, 2026])
    before = task_nodes(cluster)
    # the built-in 5,000 employees and their hires in shards of 1,500: 4 shards a year, one task each
    run(cfg, tmp_path / "ray", [2025, 2026], executor="ray", ray_address=cluster.address, shard_rows=1500)
    want = digests(tmp_path / "local")
    assert len(want) == 6 and digests(tmp_path / "ray") == want
    manifest = json.loads((tmp_path / "ray" / "manifests" / "simulation_year=2026.json").read_text())
    assert manifest["executor"] == "ray" and manifest["shards"] > 1
    assert nodes_of_tasks_since(cluster, before) == worker_nodes(cluster)
