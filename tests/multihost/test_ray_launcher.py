"""`tandem serve --launcher ray://HEAD`: a pipeline endpoint's instances on two emulated hosts.

The server runs as its own process in the root namespace (the head's host), bound to the
bridge address; each instance is a detached Ray actor on a host's node running the agent,
whose containers bind that host's address and ship their lines and usage home.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import STAGE, client, deploy, stage_container, wait_status
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.waiting import wait_until

from .netns import processes_in
from .rig import RayCluster

ENDPOINT = "mh-pipe"
GROUP = f"/aws/sagemaker/Endpoints/{ENDPOINT}"
_LISTENING = re.compile(r"listening on (\d+) pid (\d+) host (\S+)")


def _keys(tmp_path: Path) -> Path:
    keys = tmp_path / "keys.toml"
    # What tests.e2e.support.client signs with.
    keys.write_text('[[keys]]\naccess_key_id = "test"\nsecret_access_key = "test"\n')
    return keys


@pytest.fixture
def server(multihost_rig: RayCluster, tmp_path: Path) -> Iterator[ServerProcess]:
    rig = multihost_rig
    flags = [*FAST_FLAGS, "--host", rig.network.gateway, "--launcher", f"ray://{rig.gcs_address}",
             # ml.m5.large asks 2 vCPUs; a rig host has 2: half lets a replacement start
             # beside a live instance.
             "--ray-resource-scale", "0.5",
             # Only signed calls are taken: the agents' shipping signs with the file's key.
             "--auth", str(_keys(tmp_path))]  # fmt: skip
    proc = ServerProcess(tmp_path / "data", extra=flags, env={**os.environ, **rig.driver_env()})
    proc.start(timeout=60)
    try:
        yield proc
    finally:
        proc.stop(timeout=60)
        kill_actors(rig)


def kill_actors(rig: RayCluster) -> None:
    """Kill the instance actors a stopped server left running (it leaves them for the next
    server to attach to), so a failed test's cannot hold the next test's resources."""
    rig.run_driver(
        "result = [a['name'] for a in ray.util.list_named_actors(all_namespaces=True)"
        " if a['namespace'] == 'tandem']\n"
        "for name in result:\n"
        "    ray.kill(ray.get_actor(name, namespace='tandem'), no_restart=True)\n"
        # A training job's hosts' placement group is left with them, holding their CPUs.
        "from ray.util.placement_group import PlacementGroup, remove_placement_group\n"
        "for pid, g in ray.util.placement_group_table().items():\n"
        "    if g['state'] != 'REMOVED' and g['name'].startswith('tandem/'):\n"
        "        remove_placement_group(PlacementGroup(ray.PlacementGroupID("
        "bytes.fromhex(pid))))\n"
    )


def _until(what: str, check: Any, timeout: float = 90.0) -> Any:
    return wait_until(check, what, timeout=timeout, interval=0.3)


def _containers(logs: Any) -> dict[str, dict[str, tuple[int, int, str]]]:
    """{instance id: {container: (port, pid, host)}} from the shipped 'listening' lines."""
    found: dict[str, dict[str, tuple[int, int, str]]] = {}
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    for stream in streams:
        _, iid, container = stream["logStreamName"].split("/")
        events = logs.get_log_events(logGroupName=GROUP, logStreamName=stream["logStreamName"],
                                     startFromHead=True)["events"]  # fmt: skip
        for event in events:
            match = _LISTENING.search(event["message"])
            if match:
                port, pid, host = match.groups()
                found.setdefault(iid, {})[container] = (int(port), int(pid), host)
    return found


def _complete(logs: Any, count: int) -> dict[str, dict[str, tuple[int, int, str]]] | None:
    found = _containers(logs)
    ready = {iid: c for iid, c in found.items() if set(c) == {"first", "second"}}
    return found if len(ready) >= count else None


def _invoke(runtime: Any, times: int) -> list[Any]:
    answers = []
    for i in range(times):
        response = runtime.invoke_endpoint(
            EndpointName=ENDPOINT, ContentType="application/json",
            Body=json.dumps({"instances": [[i]]}),
        )  # fmt: skip
        answers.append(json.loads(response["Body"].read())["instances"])
    return answers


def _sum(cloudwatch: Any, namespace: str, metric: str, dims: dict[str, str]) -> float | None:
    points = cloudwatch.get_metric_statistics(
        Namespace=namespace, MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=datetime.now(UTC) - timedelta(minutes=10),
        EndTime=datetime.now(UTC) + timedelta(minutes=1), Period=3600, Statistics=["Sum"],
    )["Datapoints"]  # fmt: skip
    return points[0]["Sum"] if points else None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().split(") ")[1].split()[1])


def _stage_processes(rig: RayCluster) -> list[int]:
    """Container processes (the stage fixture's) left in any emulated host."""
    found = []
    for host in rig.hosts:
        for pid in processes_in(host.namespace):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if str(STAGE).encode() in cmdline:
                found.append(pid)
    return found


def _actor_names(rig: RayCluster) -> list[str]:
    names = rig.run_driver(
        "result = sorted(a['name'] for a in ray.util.list_named_actors(all_namespaces=True)"
        " if a['namespace'] == 'tandem')"
    )
    assert isinstance(names, list)
    return names


def test_pipeline_instances_spread_over_hosts_serve_ship_telemetry_and_are_replaced(
    multihost_rig: RayCluster, server: ServerProcess
) -> None:
    rig = multihost_rig
    sagemaker, runtime = client(server, "sagemaker"), client(server, "sagemaker-runtime")
    logs, cloudwatch = client(server, "logs"), client(server, "cloudwatch")
    deploy(sagemaker, ENDPOINT, [stage_container("first"), stage_container("second")],
           instances=2, wait=False)  # fmt: skip
    wait_status(sagemaker, ENDPOINT, "InService", timeout=180)

    # One instance on each host; both containers of an instance on its host, bound to its
    # address, their processes in its namespace; stdout shipped into each container's stream.
    placed = _until("both instances' startup lines", lambda: _complete(logs, 2))
    assert len(placed) == 2
    hosts = {h.address: h for h in rig.hosts}
    where = {}
    for iid, containers in placed.items():
        (host,) = {h for _, _, h in containers.values()}
        where[iid] = host
        for _, pid, _ in containers.values():
            assert pid in processes_in(hosts[host].namespace)
    assert sorted(where.values()) == sorted(hosts)

    # Requests go router -> containers over HTTP; every one answered and counted once.
    assert _invoke(runtime, 200) == [[[i + 2]] for i in range(200)]
    variant = {"EndpointName": ENDPOINT, "VariantName": "AllTraffic"}
    _until("Invocations sum 200", lambda: _sum(cloudwatch, "AWS/SageMaker", "Invocations",
                                               variant) == 200)  # fmt: skip
    # Usage samples shipped from each instance's agent, under its Host dimension.
    for iid in placed:
        host_dims = {"Host": f"{ENDPOINT}/AllTraffic/{iid}"}
        _until(f"usage of {iid}", lambda d=host_dims: _sum(  # type: ignore[misc]
            cloudwatch, "/aws/sagemaker/Endpoints", "MemoryUtilization", d) is not None)
    assert _sum(cloudwatch, "AWS/SageMaker", "Invocations", variant) == 200

    # SIGKILL one container: its instance is replaced by a new id, its other container ends.
    victim = sorted(placed)[0]
    os.kill(placed[victim]["first"][1], signal.SIGKILL)
    after = _until("a replacement instance", lambda: _complete(logs, 3), timeout=120)
    (new_iid,) = set(after) - set(placed)
    _until("the old instance's second container to end",
           lambda: not _alive(placed[victim]["second"][1]))  # fmt: skip
    wait_status(sagemaker, ENDPOINT, "InService", timeout=60)
    _until("two instances in service", lambda: sagemaker.describe_endpoint(
        EndpointName=ENDPOINT)["ProductionVariants"][0]["CurrentInstanceCount"] == 2)
    assert _invoke(runtime, 20) == [[[i + 2]] for i in range(20)]
    survivor = (set(placed) - {victim}).pop()
    expected = sorted(f"tandem/{ENDPOINT}/AllTraffic/{i}" for i in (survivor, new_iid))
    _until("the dead instance's actor to go", lambda: _actor_names(rig) == expected)

    # SIGKILL an agent (the Ray actor's worker, the containers' parent): the actor's death is
    # the instance's; it is replaced by a new id and its containers die with their agent.
    agent = _parent(placed[survivor]["first"][1])
    assert agent == _parent(placed[survivor]["second"][1])
    assert agent in processes_in(hosts[where[survivor]].namespace)
    os.kill(agent, signal.SIGKILL)
    latest = _until("a replacement for the killed agent", lambda: _complete(logs, 4),
                    timeout=120)  # fmt: skip
    (newest,) = set(latest) - set(after)
    _until("the killed agent's containers to end",
           lambda: not any(_alive(pid) for _, pid, _ in placed[survivor].values()))
    _until("two instances in service again", lambda: sagemaker.describe_endpoint(
        EndpointName=ENDPOINT)["ProductionVariants"][0]["CurrentInstanceCount"] == 2)
    assert _invoke(runtime, 20) == [[[i + 2]] for i in range(20)]
    expected = sorted(f"tandem/{ENDPOINT}/AllTraffic/{i}" for i in (new_iid, newest))
    _until("the killed agent's actor to go", lambda: _actor_names(rig) == expected)

    # DeleteEndpoint: containers stopped on every host, actors gone.
    sagemaker.delete_endpoint(EndpointName=ENDPOINT)

    def gone() -> bool:
        try:
            sagemaker.describe_endpoint(EndpointName=ENDPOINT)
        except sagemaker.exceptions.ClientError:
            return True
        return False

    _until("the endpoint to be deleted", gone)
    _until("no container process left", lambda: _stage_processes(rig) == [], timeout=30)
    every = sorted([*placed, new_iid, newest])
    _until("no actor left", lambda: _actor_names(rig) == [], timeout=30)
    missing = rig.run_driver(
        "missing = []\n"
        f"for iid in {every!r}:\n"
        "    try:\n"
        f"        ray.get_actor('tandem/{ENDPOINT}/AllTraffic/' + iid, namespace='tandem')\n"
        "    except ValueError:\n"
        "        missing.append(iid)\n"
        "result = missing\n"
    )
    assert missing == every


async def test_an_instance_no_node_can_take_fails_naming_what_it_asked(
    multihost_rig: RayCluster, tmp_path: Path
) -> None:
    from tandem.serving.launcher import ContainerSpec, InstanceSpec, InstanceStartFailed
    from tandem.serving.ray_launcher import RayLauncher

    launcher = RayLauncher(multihost_rig.gcs_address, lambda: "http://10.0.0.1:8080", tmp_path,
                           placement_timeout=3.0)  # fmt: skip
    # One GPU: the rig's hosts have none, so Ray keeps the actor pending.
    spec = InstanceSpec.for_endpoint(
        "ep-gpu", "AllTraffic", [ContainerSpec("first", (str(STAGE / "serve"),))], tmp_path,
        health_check_timeout=1.0, instance_type="ml.g5.xlarge",
    )  # fmt: skip
    try:
        with pytest.raises(InstanceStartFailed, match=r"within 4 s: no node may have 4 CPUs "
                           r"and 16 GiB of memory and 1 GPUs free") as info:  # fmt: skip
            await launcher.start_instance(spec)
        assert info.value.instance_id == spec.instance_id
        assert launcher.instances() == []
        _until("the pending actor to go", lambda: _actor_names(multihost_rig) == [], timeout=30)
    finally:
        await launcher.close()
