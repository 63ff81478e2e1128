"""Supervision end to end: log streams, failing starts, replaced instances, server kill -9."""

from __future__ import annotations

import json
import os
import re
import signal
import threading
import time
from collections.abc import Iterator

import psutil
import pytest

from tests.e2e.support import client, deploy, stage_container, wait_status
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

_STREAM = re.compile(r"^AllTraffic/(i-[0-9a-f]{17})/(first|second)$")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # A container prints 100,000 lines before it answers: on a loaded machine that outlasts the
    # suite's 3 s invocation timeout, which is not what these tests are about.
    flags = list(FAST_FLAGS)
    flags[flags.index("--invocation-timeout") + 1] = "60"
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-data"), extra=flags).start()
    yield proc
    proc.stop()


def _events(logs, group: str, stream: str) -> list[str]:  # type: ignore[no-untyped-def]
    messages: list[str] = []
    token = None
    while True:
        kwargs = {
            "logGroupName": group,
            "logStreamName": stream,
            "startFromHead": True,
            "limit": 10_000,
        }
        if token:
            kwargs["nextToken"] = token
        page = logs.get_log_events(**kwargs)
        messages += [e["message"] for e in page["events"]]
        if page["nextForwardToken"] == token:
            return messages
        token = page["nextForwardToken"]


def _pids(logs, group: str) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Container pid by stream, from each stage's 'listening ... pid N' line."""
    pids = {}
    for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
        name = stream["logStreamName"]
        for message in _events(logs, group, name):
            match = re.search(r"pid (\d+)", message)
            if match:
                pids[name] = int(match.group(1))
    return pids


def test_streams_are_named_variant_instance_container(server, sagemaker) -> None:  # type: ignore[no-untyped-def]
    deploy(sagemaker, "named-streams", [stage_container("first"), stage_container("second")])
    logs = client(server, "logs")
    group = "/aws/sagemaker/Endpoints/named-streams"
    names = wait_until(
        lambda: (
            [
                s["logStreamName"]
                for s in logs.describe_log_streams(logGroupName=group)["logStreams"]
            ]
            if len(logs.describe_log_streams(logGroupName=group)["logStreams"]) == 2
            else None
        ),
        what="two streams",
    )
    matches = [_STREAM.match(n) for n in names]
    assert all(matches), names
    assert sorted(m.group(2) for m in matches) == ["first", "second"]
    assert len({m.group(1) for m in matches}) == 1  # one instance holds both containers


def test_hundred_thousand_lines_arrive_complete_and_in_order(server, sagemaker, runtime) -> None:  # type: ignore[no-untyped-def]
    deploy(sagemaker, "chatty", [stage_container("talker")])
    runtime.invoke_endpoint(
        EndpointName="chatty", Body=json.dumps({"print": 100_000}), ContentType="application/json"
    )
    logs = client(server, "logs")
    group = "/aws/sagemaker/Endpoints/chatty"
    stream = logs.describe_log_streams(logGroupName=group)["logStreams"][0]["logStreamName"]

    def lines() -> list[str] | None:
        found = [m for m in _events(logs, group, stream) if m.startswith("talker: line ")]
        return found if len(found) >= 100_000 else None

    found = wait_until(lines, "100,000 lines")
    assert found == [f"talker: line {i}" for i in range(100_000)]


def test_failed_start_quotes_the_container_output(server, sagemaker) -> None:  # type: ignore[no-untyped-def]
    deploy(
        sagemaker,
        "broken",
        [stage_container("loader", FAIL_AT_START="cannot load model.pkl")],
        wait=False,
    )
    desc = wait_status(sagemaker, "broken", "Failed")
    reason = desc["FailureReason"]
    assert "loader" in reason
    assert "cannot load model.pkl" in reason
    # DeleteEndpoint is the only operation on a failed endpoint; it works.
    sagemaker.delete_endpoint(EndpointName="broken")
    wait_until(
        lambda: (
            not [
                e for e in sagemaker.list_endpoints()["Endpoints"] if e["EndpointName"] == "broken"
            ]
        ),
        what="deletion",
    )


def test_killed_container_under_load_is_replaced_and_counts_stay_exact(server, sagemaker) -> None:  # type: ignore[no-untyped-def]
    deploy(
        sagemaker,
        "self-healing",
        [stage_container("first"), stage_container("second")],
        instances=2,
    )
    logs = client(server, "logs")
    group = "/aws/sagemaker/Endpoints/self-healing"
    pids = wait_until(lambda: (p := _pids(logs, group)) and len(p) == 4 and p, what="4 pids")
    victim_stream = sorted(pids)[0]
    victim_instance = victim_stream.split("/")[1]
    outcomes: list[str] = []
    stop = threading.Event()

    def load() -> None:
        runtime = client(server, "sagemaker-runtime")
        while not stop.is_set():
            try:
                response = runtime.invoke_endpoint(
                    EndpointName="self-healing",
                    Body=b'{"instances": [1], "sleep": 0.01}',
                    ContentType="application/json",
                )
                assert json.loads(response["Body"].read())["instances"] == [3]
                outcomes.append("ok")
            except runtime.exceptions.ModelError:
                outcomes.append("model-error")
            except Exception as exc:  # noqa: BLE001 - counted, then asserted below
                outcomes.append(type(exc).__name__)

    workers = [threading.Thread(target=load) for _ in range(4)]
    for worker in workers:
        worker.start()
    try:
        wait_until(lambda: outcomes.count("ok") >= 20, "the load to flow")
        os.kill(pids[victim_stream], signal.SIGKILL)
        killed_at = len(outcomes)
        # The load goes on until the replacement has started and requests still succeed.
        wait_until(
            lambda: len({n.split("/")[1] for n in _pids(logs, group)}) == 3,
            "a replacement instance under load",
        )
        replaced_at = len(outcomes)
        wait_until(
            lambda: outcomes[replaced_at:].count("ok") >= 20, "requests after the replacement"
        )
    finally:
        stop.set()
        for worker in workers:
            worker.join()
    assert killed_at < replaced_at  # requests were answered while the instance was replaced
    errors = [o for o in outcomes if o != "ok"]
    # Only requests in flight on the dead container can fail: at most one per client thread.
    assert set(errors) <= {"model-error"} and len(errors) <= 4, errors
    assert outcomes.count("ok") > 20
    instances = wait_until(
        lambda: (ids := {n.split("/")[1] for n in _pids(logs, group)}) and len(ids) == 3 and ids,
        what="a replacement instance",
    )
    assert victim_instance in instances  # its streams are kept
    # The endpoint stays InService throughout; the replacement shows in the instance count.
    wait_until(
        lambda: (
            sagemaker.describe_endpoint(EndpointName="self-healing")["ProductionVariants"][0][
                "CurrentInstanceCount"
            ]
            == 2
        ),
        what="two instances again",
    )
    sibling = next(
        pid
        for stream, pid in pids.items()
        if stream != victim_stream and stream.split("/")[1] == victim_instance
    )
    # The dead container's sibling in the same instance is stopped with it.
    wait_until(lambda: not _alive(sibling), "the sibling container to stop")
    # Every request the clients sent is counted, and every error they saw.
    cloudwatch = client(server, "cloudwatch")
    dims = [
        {"Name": "EndpointName", "Value": "self-healing"},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]

    def counted() -> tuple[float, float] | None:
        sums = []
        for metric in ("Invocations", "Invocation5XXErrors"):
            now = time.time()
            points = cloudwatch.get_metric_statistics(
                Namespace="AWS/SageMaker",
                MetricName=metric,
                Dimensions=dims,
                StartTime=now - 600,
                EndTime=now + 60,
                Period=60,
                Statistics=["Sum"],
            )["Datapoints"]
            sums.append(sum(p["Sum"] for p in points))
        return tuple(sums) if sums[0] == len(outcomes) else None  # type: ignore[return-value]

    assert wait_until(counted, what="exact counts") == (len(outcomes), len(errors))


def test_failing_ping_gets_the_instance_replaced(server, sagemaker, tmp_path) -> None:  # type: ignore[no-untyped-def]
    flag = tmp_path / "unhealthy"
    deploy(sagemaker, "pingless", [stage_container("flaky", PING_FAIL_FILE=str(flag))])
    logs = client(server, "logs")
    group = "/aws/sagemaker/Endpoints/pingless"
    first = set(_pids(logs, group))
    flag.touch()  # every /ping now answers 500 ...
    streams = wait_until(
        lambda: (s := set(_pids(logs, group))) and len(s) == 2 and s,
        what="a replacement instance",
    )
    flag.unlink()  # ... until the replacement starts (it waits for its first good /ping)
    assert first < streams
    wait_status(sagemaker, "pingless", "InService")


def test_delete_endpoint_answers_the_requests_in_flight_then_stops(  # type: ignore[no-untyped-def]
    server, sagemaker, runtime,
) -> None:
    deploy(sagemaker, "draining", [stage_container("slow")])
    logs = client(server, "logs")
    [pid] = wait_until(lambda: list(_pids(logs, "/aws/sagemaker/Endpoints/draining").values()),
                       what="the container's pid")
    answers: list[object] = []

    def invoke() -> None:
        try:
            response = runtime.invoke_endpoint(
                EndpointName="draining", Body=b'{"instances": [1], "sleep": 2}',
                ContentType="application/json")
            answers.append(json.loads(response["Body"].read())["instances"])
        except Exception as exc:  # noqa: BLE001 - asserted below
            answers.append(exc)

    workers = [threading.Thread(target=invoke) for _ in range(3)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)  # the three requests are in the container's 2 s sleep
    sagemaker.delete_endpoint(EndpointName="draining")
    gone = "Endpoint draining of account .* not found"
    with pytest.raises(sagemaker.exceptions.ClientError, match=gone):
        runtime.invoke_endpoint(EndpointName="draining", Body=b"{}",
                                ContentType="application/json")
    for worker in workers:
        worker.join(30)
    assert answers == [[2], [2], [2]]
    wait_until(lambda: not _alive(pid), what="the container to stop after the drain")


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_server_kill_9_leaves_no_container_and_restart_restores(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = ServerProcess(tmp_path / "data").start()
    try:
        sm = client(first, "sagemaker")
        deploy(sm, "survivor", [stage_container("first"), stage_container("second")])
        pids = wait_until(
            lambda: (
                (p := _pids(client(first, "logs"), "/aws/sagemaker/Endpoints/survivor"))
                and len(p) == 2
                and p
            ),
            what="container pids",
        )
        children = psutil.Process(first.pid).children(recursive=True)
        assert {c.pid for c in children} >= set(pids.values())
    finally:
        first.kill()
    wait_until(
        lambda: not any(psutil.pid_exists(p) for p in pids.values()),
        what="containers to die with the server",
    )
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE, child
    second = ServerProcess(tmp_path / "data").start()
    try:
        sm = client(second, "sagemaker")
        wait_status(sm, "survivor", "InService")
        response = client(second, "sagemaker-runtime").invoke_endpoint(
            EndpointName="survivor", Body=b'{"instances": [1]}', ContentType="application/json"
        )
        assert json.loads(response["Body"].read())["instances"] == [3]
    finally:
        second.stop()
