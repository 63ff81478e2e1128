"""The Ray head down and back, under a real `tandem serve --launcher ray://HEAD`: instances that
are up keep serving, a new placement fails naming the head, and once the head is back (with
GCS fault tolerance: its tables in Redis) the same actors and containers serve on and the
endpoint that failed is created again.

Ray 2.60 without GCS fault tolerance loses the cluster on a head restart (the nodes' raylets
exit on the new GCS's cluster id, every actor is gone): docs/scale-out.md records both."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.support import client, deploy, stage_container, wait_status
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.tools import Tool, require_tool

from .conftest import RAY
from .netns import NamespacesUnavailable
from .rig import RayCluster, ray_cluster
from .test_ray_launcher import (
    ENDPOINT,
    _actor_names,
    _complete,
    _invoke,
    _keys,
    _stage_processes,
    _until,
    kill_actors,
)
from .test_ray_reattach import server_instance_ids

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REDIS_ADDRESS = f"{REDIS_HOST}:{REDIS_PORT}"
SECOND = "mh-second"


def _redis_listening() -> str | None:
    try:
        with socket.create_connection((REDIS_HOST, REDIS_PORT), 2):
            return REDIS_ADDRESS
    except OSError:
        return None


REDIS = Tool("redis", "redis-server (Debian's package) listening on 127.0.0.1:6379",
             _redis_listening)  # fmt: skip


def _redis_delete(pattern: str) -> int:
    """Delete the keys matching ``pattern`` (one Lua call over RESP): how many went."""
    script = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do " \
             "n = n + redis.call('DEL', k) end return n"  # fmt: skip
    parts = [b"EVAL", script.encode(), b"0", pattern.encode()]
    command = b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection((REDIS_HOST, REDIS_PORT), 5) as conn:
        conn.sendall(command)
        reply = conn.recv(4096)
    assert reply.startswith(b":"), reply
    return int(reply[1:].split(b"\r\n")[0])


@pytest.fixture(scope="module")
def fault_tolerant_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """Two emulated hosts whose head keeps its GCS tables in Redis, under a key namespace of
    its own (Redis is shared: other clusters, other suites)."""
    require_tool(RAY)
    require_tool(REDIS)
    work = tmp_path_factory.mktemp("headft")
    storage = f"tandem-test-{os.getpid()}-{time.time_ns()}"
    env = {"RAY_REDIS_ADDRESS": REDIS_ADDRESS, "RAY_external_storage_namespace": storage}
    try:
        with ray_cluster(2, work, head_env=env) as cluster:
            yield cluster
    except NamespacesUnavailable as exc:
        pytest.skip(f"no emulated hosts here: {exc}")
    finally:
        _redis_delete(f"RAY{storage}@*")


def _server(rig: RayCluster, tmp_path: Path, *extra: str) -> ServerProcess:
    flags = [*FAST_FLAGS, "--host", rig.network.gateway, "--launcher", f"ray://{rig.gcs_address}",
             "--ray-resource-scale", "0.5", "--auth", str(_keys(tmp_path)), *extra]  # fmt: skip
    return ServerProcess(tmp_path / "data", extra=flags, env={**os.environ, **rig.driver_env()})


def _in_service_with(sagemaker: object, count: int) -> bool:
    described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)  # type: ignore[attr-defined]
    variant = described["ProductionVariants"][0]
    return bool(described["EndpointStatus"] == "InService"
                and variant["CurrentInstanceCount"] == count)  # fmt: skip


def test_instances_serve_through_a_head_outage_and_tandem_reconciles_when_it_returns(
    fault_tolerant_rig: RayCluster, tmp_path: Path
) -> None:
    rig = fault_tolerant_rig
    server = _server(rig, tmp_path).start(timeout=60)
    try:
        sagemaker = client(server, "sagemaker")
        runtime = client(server, "sagemaker-runtime")
        logs = client(server, "logs")
        deploy(sagemaker, ENDPOINT, [stage_container("first"), stage_container("second")],
               instances=2, wait=False)  # fmt: skip
        wait_status(sagemaker, ENDPOINT, "InService", timeout=180)
        placed = _until("both instances' startup lines", lambda: _complete(logs, 2))
        pids = sorted(_stage_processes(rig))
        actors = _actor_names(rig)
        assert len(pids) == 4 and len(actors) == 2
        expected = [[[i + 2]] for i in range(30)]

        rig.head.down(grace=0)  # SIGKILL: the head's machine crashed
        down_at = time.monotonic()
        assert rig.head.members() == []
        # Ray is not on the request path: every request is answered while the head is down.
        assert _invoke(runtime, 30) == expected
        # A new placement fails at once, naming the head.
        sagemaker.create_model(ModelName=SECOND, Containers=[stage_container("first")])
        sagemaker.create_endpoint_config(EndpointConfigName=SECOND, ProductionVariants=[{
            "VariantName": "AllTraffic", "ModelName": SECOND, "InitialInstanceCount": 1,
            "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}])  # fmt: skip
        sagemaker.create_endpoint(EndpointName=SECOND, EndpointConfigName=SECOND)
        failed = wait_status(sagemaker, SECOND, "Failed", timeout=60)
        assert f"The Ray head at {rig.gcs_address} is unreachable" in failed["FailureReason"]
        assert _invoke(runtime, 30) == expected
        described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        assert described["EndpointStatus"] == "InService"
        assert described["ProductionVariants"][0]["CurrentInstanceCount"] == 2
        # Well inside the ~60 s after which the nodes' raylets give up on the GCS.
        assert time.monotonic() - down_at < 50

        rig.head.restart()  # as systemd's Restart=always would: same port, same temp dir
        _until("the nodes registered with the restarted head",
               lambda: len(rig.alive_nodes()) == 3, timeout=120)  # fmt: skip
        # The same actors and container processes: nothing was replaced.
        assert _actor_names(rig) == actors
        assert sorted(_stage_processes(rig)) == pids
        assert [n.process.poll() for n in rig.nodes] == [None, None]
        assert _invoke(runtime, 30) == expected
        assert sorted(server_instance_ids(logs)) == sorted(placed)

        # The endpoint that failed is created again, on the cluster that is back.
        sagemaker.delete_endpoint(EndpointName=SECOND)
        _until("the failed endpoint deleted", lambda: SECOND not in [
            e["EndpointName"] for e in sagemaker.list_endpoints()["Endpoints"]])  # fmt: skip
        sagemaker.create_endpoint(EndpointName=SECOND, EndpointConfigName=SECOND)
        wait_status(sagemaker, SECOND, "InService", timeout=180)
        assert len(_actor_names(rig)) == 3
        assert sorted(server_instance_ids(logs)) == sorted(placed)  # ENDPOINT's: unchanged
        described = sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        assert described["EndpointStatus"] == "InService"

        for name in (SECOND, ENDPOINT):
            sagemaker.delete_endpoint(EndpointName=name)
        _until("no actor left", lambda: _actor_names(rig) == [], timeout=60)
        _until("no container process left", lambda: _stage_processes(rig) == [], timeout=30)
    finally:
        server.stop(timeout=60)
        with contextlib.suppress(Exception):  # the head may be what failed
            kill_actors(rig)


@pytest.fixture(scope="module")
def stateless_rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """Two emulated hosts whose head keeps its GCS tables in memory only (Ray's default)."""
    require_tool(RAY)
    try:
        with ray_cluster(2, tmp_path_factory.mktemp("headplain")) as cluster:
            yield cluster
    except NamespacesUnavailable as exc:
        pytest.skip(f"no emulated hosts here: {exc}")


@pytest.mark.timeout(900)
def test_a_head_restarted_without_its_state_loses_every_instance_and_tandem_replaces_them(
    stateless_rig: RayCluster, tmp_path: Path
) -> None:
    rig = stateless_rig
    # 30 s, not the default 90 s, of an unreachable agent before its instance is replaced.
    server = _server(rig, tmp_path, "--agent-unreachable-limit", "30").start(timeout=60)
    try:
        sagemaker = client(server, "sagemaker")
        runtime = client(server, "sagemaker-runtime")
        logs = client(server, "logs")
        deploy(sagemaker, ENDPOINT, [stage_container("first"), stage_container("second")],
               instances=1, wait=False)  # fmt: skip
        wait_status(sagemaker, ENDPOINT, "InService", timeout=180)
        placed = _until("the instance's startup lines", lambda: _complete(logs, 1))
        assert len(_actor_names(rig)) == 1
        expected = [[[i + 2]] for i in range(10)]

        rig.head.down(grace=0)
        assert _invoke(runtime, 10) == expected
        rig.head.restart()
        # The nodes' raylets refuse the new cluster (WrongClusterID) and exit, their actors and
        # (fate-sharing) the containers with them.
        for node in rig.nodes:
            node.process.wait(120)  # exits 0 or 1, as the raylet's end is noticed
        _until("no container process left", lambda: _stage_processes(rig) == [], timeout=30)
        for node in rig.nodes:  # as systemd's Restart=always would
            node.restart()
        _until("the nodes joined the new cluster", lambda: len(rig.alive_nodes()) == 3,
               timeout=120)  # fmt: skip
        # The old actor went with the old cluster (its replacement may be placed already).
        assert f"tandem/{ENDPOINT}/AllTraffic/{next(iter(placed))}" not in _actor_names(rig)

        # The server's agent is unreachable (never reported dead): after 30 s it is replaced,
        # and the replacement's start rejoins the new cluster.
        def replaced() -> bool:
            found = _complete(logs, 2)
            return found is not None and set(found) - set(placed) != set()

        _until("a replacement instance with a new id", replaced, timeout=420)
        _until("InService with 1 instance", lambda: _in_service_with(sagemaker, 1), timeout=120)
        assert _invoke(runtime, 10) == expected
        new = sorted(set(server_instance_ids(logs)) - set(placed))
        assert len(new) == 1
        assert _actor_names(rig) == [f"tandem/{ENDPOINT}/AllTraffic/{new[0]}"]
        # Why: 30 s unreachable, then one start refused by the new cluster, which was rejoined.
        said = "".join(server.output)
        assert f"replacing instance {next(iter(placed))}: " in said
        assert "has been unreachable for 30 s: ActorUnavailableError" in said
        assert f"The Ray cluster at {rig.gcs_address} was restarted without its state" in said

        sagemaker.delete_endpoint(EndpointName=ENDPOINT)
        _until("no actor left", lambda: _actor_names(rig) == [], timeout=60)
    finally:
        server.stop(timeout=60)
        (tmp_path / "server.log").write_text("".join(server.output))  # what it did, and why
        with contextlib.suppress(Exception):
            kill_actors(rig)
