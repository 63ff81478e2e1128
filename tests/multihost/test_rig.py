"""The rig itself: hosts are real network namespaces, each a Ray node with its own address,
and everything the rig starts is gone after it, even when the test inside it fails."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tandem.supervision.fate_sharing import read_stat
from tests.tools import require_tool

from .conftest import RAY
from .netns import NamespacesUnavailable, processes_in
from .rig import RayCluster, ray_cluster


def test_each_host_is_a_ray_node_with_its_own_address(multihost_rig: RayCluster) -> None:
    nodes = {node["ip"]: node["resources"] for node in multihost_rig.alive_nodes()}
    gateway = multihost_rig.network.gateway
    assert sorted(nodes) == sorted([gateway, *(h.address for h in multihost_rig.hosts)])
    assert nodes[gateway].get("CPU", 0) == 0  # nothing is placed on the head
    for host in multihost_rig.hosts:
        assert nodes[host.address]["CPU"] == 2 and nodes[host.address][host.name] == 1


def test_work_pinned_to_a_host_runs_in_its_namespace(multihost_rig: RayCluster) -> None:
    seen = multihost_rig.run_driver(
        "import psutil, socket\n"
        "@ray.remote(num_cpus=0)\n"
        "def where():\n"
        "    return sorted(a.address for addrs in psutil.net_if_addrs().values()\n"
        "                  for a in addrs if a.family == socket.AF_INET)\n"
        "result = {h: ray.get(where.options(resources={h: 0.01}).remote())\n"
        f"          for h in {[h.name for h in multihost_rig.hosts]!r}}}\n"
    )
    assert seen == {h.name: sorted(["127.0.0.1", h.address]) for h in multihost_rig.hosts}


def test_the_rig_leaves_nothing_behind_even_when_a_test_fails(tmp_path: Path) -> None:
    require_tool(RAY)
    started: list[int] = []
    namespaces: list[str] = []
    try:
        with pytest.raises(RuntimeError, match="a failing test"):
            with ray_cluster(1, tmp_path) as cluster:
                started = [pid for n in [cluster.head, *cluster.nodes] for pid in n.members()]
                namespaces = [h.namespace for h in cluster.hosts]
                assert len(started) >= 4 and processes_in(namespaces[0])
                raise RuntimeError("a failing test")
    except NamespacesUnavailable as exc:
        pytest.skip(f"no emulated hosts here: {exc}")
    # A zombie is dead: only its parent's wait (or PID 1's) removes it from /proc.
    alive = [pid for pid in started if (stat := read_stat(pid)) and stat[0] not in "ZX"]
    assert alive == []
    assert all(not os.path.exists(f"/run/netns/{ns}") for ns in namespaces)
