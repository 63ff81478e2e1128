"""A fleet on the Ray launcher: four instances over two emulated hosts, counted exactly; log
lines surviving a server stop; a whole host lost and its instances re-placed on the other.

Each test runs a real ``tandem serve --launcher ray://HEAD`` process in the root namespace.
Where container processes run is read from /proc (their network namespace), not from Ray.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import STAGE, client, deploy, stage_container, wait_status
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.tools import require_tool
from tests.waiting import wait_until

from .conftest import RAY
from .netns import NamespacesUnavailable, processes_in
from .rig import RayCluster, ray_cluster
from .test_ray_launcher import kill_actors

_LISTENING = re.compile(r"listening on (\d+) pid (\d+) host (\S+)")
_CONTAINERS = ("first", "second")


def _serve(rig: RayCluster, tmp_path: Path, scale: float, port: int = 0,
           extra: Sequence[str] = ()) -> ServerProcess:
    keys = tmp_path / "keys.toml"
    # What tests.e2e.support.client signs with; the agents' shipping signs with it too.
    keys.write_text('[[keys]]\naccess_key_id = "test"\nsecret_access_key = "test"\n')
    flags = [*FAST_FLAGS, "--host", rig.network.gateway, "--launcher", f"ray://{rig.gcs_address}",
             "--ray-resource-scale", str(scale), "--auth", str(keys), *extra]  # fmt: skip
    proc = ServerProcess(tmp_path / "data", extra=flags, env={**os.environ, **rig.driver_env()},
                         port=port)  # fmt: skip
    return proc.start(timeout=60)


@pytest.fixture
def serve(multihost_rig: RayCluster, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    """Servers a test starts on the session rig; each stopped at the end (SIGTERM), then
    the actors they leave running killed, so the next test finds the rig's CPUs free."""
    started: list[ServerProcess] = []
    yield started
    for proc in started:
        if proc.proc is not None and proc.proc.poll() is None:
            proc.stop(timeout=60)
    kill_actors(multihost_rig)


def _until(what: str, check: Any, timeout: float = 90.0) -> Any:
    return wait_until(check, what, timeout=timeout, interval=0.3)


def _events(logs: Any, group: str, stream: str) -> list[str]:
    """Every message of a stream, oldest first (following the pages)."""
    messages: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream,
                                  "startFromHead": True}  # fmt: skip
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        messages += [event["message"] for event in page["events"]]
        if not page["events"] or page.get("nextForwardToken") == token:
            return messages
        token = page["nextForwardToken"]


def _streams(logs: Any, group: str) -> list[str]:
    names: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group}
    while True:
        page = logs.describe_log_streams(**kwargs)
        names += [s["logStreamName"] for s in page["logStreams"]]
        if not page.get("nextToken"):
            return names
        kwargs["nextToken"] = page["nextToken"]


def _placed(logs: Any, endpoint: str) -> dict[str, dict[str, tuple[int, str]]]:
    """{instance id: {container: (pid, host address)}} from the shipped 'listening' lines,
    for instances whose every container has said it listens."""
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    found: dict[str, dict[str, tuple[int, str]]] = {}
    for stream in _streams(logs, group):
        _, iid, container = stream.split("/")
        for message in _events(logs, group, stream):
            match = _LISTENING.search(message)
            if match:
                found.setdefault(iid, {})[container] = (int(match[2]), match[3])
    return {iid: c for iid, c in found.items() if set(c) == set(_CONTAINERS)}


def _host_of(rig: RayCluster, pid: int) -> str | None:
    """The emulated host whose namespace holds ``pid`` (read from /proc)."""
    for host in rig.hosts:
        if pid in processes_in(host.namespace):
            return host.name
    return None


def _spread(rig: RayCluster, placed: dict[str, dict[str, tuple[int, str]]]) -> dict[str, str]:
    """{instance id: host name}, checking both containers run in the host they say they bind."""
    where = {}
    by_address = {h.address: h.name for h in rig.hosts}
    for iid, containers in placed.items():
        hosts = {_host_of(rig, pid) for pid, _ in containers.values()}
        assert len(hosts) == 1, f"{iid}'s containers run in {hosts}"
        (host,) = hosts
        assert host is not None, f"{iid}'s containers are in no emulated host"
        assert {by_address[a] for _, a in containers.values()} == {host}
        where[iid] = host
    return where


def _stage_processes(namespace: str) -> list[int]:
    found = []
    for pid in processes_in(namespace):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(STAGE).encode() in cmdline:
            found.append(pid)
    return found


def _stat(cloudwatch: Any, namespace: str, metric: str, dims: dict[str, str],
          statistic: str = "Sum") -> float | None:  # fmt: skip
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=datetime.now(UTC) - timedelta(minutes=30),
        EndTime=datetime.now(UTC) + timedelta(minutes=1), Period=86400, Statistics=[statistic],
    )["Datapoints"]  # fmt: skip
    return sum(p[statistic] for p in points) if points else None


def _invoke(runtime: Any, endpoint: str, body: dict[str, Any]) -> Any:
    response = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json",
                                       Body=json.dumps(body))  # fmt: skip
    return json.loads(response["Body"].read())["instances"]


def _deploy(sagemaker: Any, endpoint: str, instances: int) -> None:
    deploy(sagemaker, endpoint, [stage_container(name) for name in _CONTAINERS],
           instances=instances, wait=False)  # fmt: skip
    wait_status(sagemaker, endpoint, "InService", timeout=240)


def test_four_instances_spread_two_per_host_and_every_invocation_is_counted(
    multihost_rig: RayCluster, serve: list[ServerProcess], tmp_path: Path
) -> None:
    rig, endpoint = multihost_rig, "mh-fleet"
    # ml.m5.large asks 2 vCPUs; half of that on hosts of 2 CPUs: exactly two instances fit on
    # each host, so four can only be placed 2 + 2.
    server = _serve(rig, tmp_path, scale=0.5)
    serve.append(server)
    sagemaker, logs = client(server, "sagemaker"), client(server, "logs")
    cloudwatch = client(server, "cloudwatch")
    _deploy(sagemaker, endpoint, 4)
    placed = _until("four instances' startup lines", lambda: len(p := _placed(logs, endpoint))
                    == 4 and p)  # fmt: skip
    where = _spread(rig, placed)
    assert sorted(where.values()) == sorted([h.name for h in rig.hosts] * 2)

    # 1,000 invocations from 4 concurrent clients: every one answered with its own result.
    clients, each = 4, 250
    wrong: list[tuple[int, Any]] = []

    def send(worker: int) -> None:
        runtime = client(server, "sagemaker-runtime")
        for i in range(each):
            n = worker * each + i
            try:
                got = _invoke(runtime, endpoint, {"instances": [[n]]})
            except Exception as exc:  # noqa: BLE001 - recorded, asserted below
                got = repr(exc)
            if got != [[n + 2]]:
                wrong.append((n, got))

    threads = [threading.Thread(target=send, args=(w,)) for w in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []

    variant = {"EndpointName": endpoint, "VariantName": "AllTraffic"}
    _until(
        "Invocations sum 1000",
        lambda: _stat(cloudwatch, "AWS/SageMaker", "Invocations", variant) == 1000,
    )
    for name in _CONTAINERS:
        latency = _stat(cloudwatch, "AWS/SageMaker", "ContainerLatency",
                        {**variant, "ContainerName": name}, "SampleCount")  # fmt: skip
        assert latency == 1000, name
    assert _stat(cloudwatch, "AWS/SageMaker", "Invocation5XXErrors", variant) == 0

    # Usage from each instance's agent, under Host and under EndpointName, VariantName.
    for metric in ("CPUUtilization", "MemoryUtilization"):
        for iid in placed:
            host = {"Host": f"{endpoint}/AllTraffic/{iid}"}
            _until(
                f"{metric} of {iid}",
                lambda d=host, m=metric: _stat(  # type: ignore[misc]
                    cloudwatch, "/aws/sagemaker/Endpoints", m, d, "SampleCount"
                ),
            )
        _until(
            f"{metric} of the variant",
            lambda m=metric: _stat(  # type: ignore[misc]
                cloudwatch, "/aws/sagemaker/Endpoints", m, variant, "SampleCount"
            ),
        )
    # Still exactly 1,000: the usage samples and the waits added no invocation.
    assert _stat(cloudwatch, "AWS/SageMaker", "Invocations", variant) == 1000

    sagemaker.delete_endpoint(EndpointName=endpoint)
    _until(
        "no container process left",
        lambda: not any(_stage_processes(h.namespace) for h in rig.hosts),
        timeout=60,
    )


def test_log_lines_survive_a_server_stop_exactly_once_and_in_order(
    multihost_rig: RayCluster, serve: list[ServerProcess], tmp_path: Path
) -> None:
    rig, endpoint = multihost_rig, "mh-logs"
    group = f"/aws/sagemaker/Endpoints/{endpoint}"
    server = _serve(rig, tmp_path, scale=0.5)
    serve.append(server)
    _deploy(client(server, "sagemaker"), endpoint, 2)
    port = int(server.url.rsplit(":", 1)[1])

    # One client, requests in sequence: each container prints "<name>: req-N" before it
    # answers, so an answered request's line is in its instance's streams, in N's order.
    answered: list[int] = []
    stop = threading.Event()

    def traffic() -> None:
        runtime = client(server, "sagemaker-runtime")
        n = 0
        while not stop.is_set():
            try:
                if _invoke(runtime, endpoint, {"instances": [[n]], "say": f"req-{n}"}) == [
                        [n + 2]]:  # fmt: skip
                    answered.append(n)
            except Exception:  # noqa: BLE001 - the server is down: try again shortly
                time.sleep(0.1)
            n += 1

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        _until("traffic flowing", lambda: len(answered) >= 50, timeout=60)
        server.stop(timeout=60)  # SIGTERM, during traffic
        stopped_at = len(answered)
        time.sleep(10)
        restarted = _serve(rig, tmp_path, scale=0.5, port=port)
        serve.append(restarted)
        wait_status(client(restarted, "sagemaker"), endpoint, "InService", timeout=240)
        _until("traffic after the restart", lambda: len(answered) >= stopped_at + 50,
               timeout=120)  # fmt: skip
    finally:
        stop.set()
        sender.join()

    logs = client(serve[-1], "logs")
    said = re.compile(r"^(first|second): req-(\d+)$")

    def lines() -> dict[str, list[tuple[str, int]]]:
        found: dict[str, list[tuple[str, int]]] = {}
        for stream in _streams(logs, group):
            container = stream.rsplit("/", 1)[1]
            for message in _events(logs, group, stream):
                match = said.match(message.strip())
                if match:
                    # Each container's lines only in its own streams.
                    assert match[1] == container, (stream, message)
                    found.setdefault(stream, []).append((container, int(match[2])))
        return found

    def complete() -> dict[str, list[tuple[str, int]]] | None:
        found = lines()
        for name in _CONTAINERS:
            seen = {n for stream in found.values() for c, n in stream if c == name}
            if not set(answered) <= seen:
                return None
        return found

    try:
        found = _until("every answered request's lines", complete, timeout=60)
    except AssertionError:
        found = lines()
        for name in _CONTAINERS:
            seen = {n for stream in found.values() for c, n in stream if c == name}
            lost = sorted(set(answered) - seen)
            before = [n for n in lost if n < answered[stopped_at - 1] + 1]
            raise AssertionError(
                f"{name}: {len(lost)} of {len(answered)} answered requests' lines missing "
                f"({len(before)} from before the stop): {lost[:20]}"
            ) from None
        raise
    for stream, entries in found.items():
        numbers = [n for _, n in entries]
        assert numbers == sorted(set(numbers)), f"{stream}: duplicated or out of order"
    for name in _CONTAINERS:
        every = sorted(n for stream in found.values() for c, n in stream if c == name)
        assert every == sorted(set(every)), f"{name}: a line in two streams"

    # Deleted, not left to the server's stop: a server that re-attaches on restart leaves
    # its instances running when stopped, and the rig's CPUs are the later tests'.
    client(serve[-1], "sagemaker").delete_endpoint(EndpointName=endpoint)
    _until(
        "no container process left",
        lambda: not any(_stage_processes(h.namespace) for h in rig.hosts),
        timeout=60,
    )


def test_a_lost_host_has_its_instances_replaced_on_the_other_and_only_in_flight_requests_fail(
    tmp_path: Path,
) -> None:
    require_tool(RAY)
    endpoint, clients = "mh-lost", 3
    try:
        # Its own cluster: killing a node leaves a rig no later test could use. Hosts of 4
        # CPUs, one CPU an instance: four are spread 2 + 2 and one host can take all four.
        with ray_cluster(2, tmp_path, cpus_per_host=4) as rig:
            server = _serve(rig, tmp_path, scale=0.5)
            try:
                _lose_a_host(rig, server, endpoint, clients)
            finally:
                server.stop(timeout=60)
    except NamespacesUnavailable as exc:
        pytest.skip(f"no emulated hosts here: {exc}")


def _lose_a_host(rig: RayCluster, server: ServerProcess, endpoint: str, clients: int) -> None:
    sagemaker, logs = client(server, "sagemaker"), client(server, "logs")
    _deploy(sagemaker, endpoint, 4)
    placed = _until("four instances' startup lines", lambda: len(p := _placed(logs, endpoint))
                    == 4 and p)  # fmt: skip
    where = _spread(rig, placed)
    assert sorted(where.values()) == sorted([h.name for h in rig.hosts] * 2)
    lost_host = rig.hosts[0]
    lost = {iid for iid, host in where.items() if host == lost_host.name}
    node = next(n for n in rig.nodes if n.host == lost_host)

    results: list[int] = []  # 200 or the error's HTTP status (0: no answer)
    stop = threading.Event()

    def steady(worker: int) -> None:
        runtime = client(server, "sagemaker-runtime")
        n = worker * 1_000_000
        while not stop.is_set():
            try:
                ok = _invoke(runtime, endpoint, {"instances": [[n]]}) == [[n + 2]]
                results.append(200 if ok else -1)
            except runtime.exceptions.ClientError as exc:
                results.append(exc.response["ResponseMetadata"].get("HTTPStatusCode", 0))
            except Exception:  # noqa: BLE001 - counted as a failure
                results.append(0)
            n += 1

    threads = [threading.Thread(target=steady, args=(w,)) for w in range(clients)]
    for thread in threads:
        thread.start()
    try:
        _until("traffic flowing", lambda: len(results) >= 100, timeout=60)
        before = len(results)
        node.kill()  # SIGKILL every process of the host's Ray node
        # Replacements for the lost host's two instances, with new ids, on the other host.
        after = _until("two replacements", lambda: len(p := _placed(logs, endpoint)) >= 6 and p,
                       timeout=180)  # fmt: skip
        _until("four instances in service", lambda: sagemaker.describe_endpoint(
            EndpointName=endpoint)["ProductionVariants"][0]["CurrentInstanceCount"] == 4,
            timeout=120)  # fmt: skip
        during = len(results)
        _until("traffic on the replacements", lambda: len(results) >= during + 100, timeout=60)
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    new = set(after) - set(placed)
    assert len(new) == 2 and not new & set(placed)
    survivors = set(placed) - lost
    now = _spread(rig, {iid: after[iid] for iid in survivors | new})
    other = rig.hosts[1].name
    assert now == {iid: other for iid in survivors | new}
    # No container process left in the lost host (read in /proc, not from Ray).
    assert _stage_processes(lost_host.namespace) == []
    for containers in (placed[iid] for iid in lost):
        for pid, _ in containers.values():
            assert not Path(f"/proc/{pid}").exists() or _host_of(rig, pid) is None

    # Only requests in flight on the lost instances failed: at most one a client.
    failures = [status for status in results if status != 200]
    assert len(failures) <= clients, failures
    assert all(status == 200 for status in results[:before])
    assert len(results) - len(failures) >= before + 100
