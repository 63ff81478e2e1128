"""Any server accepts any call: a standby forwards every call it does not serve itself to the
leader, verbatim, so SigV4 signatures made for the standby's URL verify on the leader, and the
leader's answer comes back unchanged. Leader A and standby B are real `tandem serve --auth`
processes on one scratch PostgreSQL database, shared by the module's tests (in file order: the
last one kills A)."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.support import stage_container, wait_status
from tests.postgres import POSTGRES, scratch_database
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.tools import require_tool
from tests.waiting import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # a 5 s takeover bound

KEY, SECRET = "AKIDFORWARD", "forward-secret"
TAKEOVER_LIMIT = 5.0  # seconds: issue 18's bound for a new leader
_STANDBY = re.compile(r"standby: routing InvokeEndpoint on (http://\S+)")


class Servers:
    def __init__(self, leader: ServerProcess, standby: ServerProcess, standby_url: str,
                 standby_started: threading.Thread) -> None:  # fmt: skip
        self.leader = leader
        self.standby = standby
        self.standby_url = standby_url  # the standby's port: the same once it leads
        self.standby_started = standby_started


def _client(url: str, service: str) -> Any:
    return boto3.client(
        service, endpoint_url=url, region_name="us-east-1", aws_access_key_id=KEY,
        aws_secret_access_key=SECRET,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=70,
                      s3={"addressing_style": "path"}))  # fmt: skip


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    require_tool(POSTGRES)
    root = tmp_path_factory.mktemp("forwarding")
    keys = root / "keys.toml"
    keys.write_text(f'[[keys]]\naccess_key_id = "{KEY}"\nsecret_access_key = "{SECRET}"\n')
    with scratch_database() as dsn:
        flags = [*FAST_FLAGS, "--store", dsn, "--auth", str(keys)]
        leader = ServerProcess(root / "a", extra=flags).start()
        standby = ServerProcess(root / "b", extra=flags)
        started = threading.Thread(target=standby.start, kwargs={"timeout": 300})
        started.start()
        try:
            wait_until(lambda: any(_STANDBY.search(line) for line in standby.output),
                       "the standby to serve")  # fmt: skip
            [url] = [m.group(1) for line in standby.output if (m := _STANDBY.search(line))]
            yield Servers(leader, standby, url, started)
        finally:
            if leader.proc is not None and leader.proc.poll() is None:
                leader.stop()
            started.join(60)
            if standby.proc is not None:
                standby.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_whole_api_through_a_standby_reaches_the_leader(servers: Servers) -> None:
    b, a = servers.standby_url, servers.leader.url
    assert servers.standby.url == ""  # B does not lead: it is a standby
    sagemaker = _client(b, "sagemaker")
    sagemaker.create_model(ModelName="fwd", Containers=[stage_container("only")],
                           InferenceExecutionConfig={"Mode": "Serial"})  # fmt: skip
    sagemaker.create_endpoint_config(EndpointConfigName="fwd", ProductionVariants=[{
        "VariantName": "AllTraffic", "ModelName": "fwd", "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}])  # fmt: skip
    arn = sagemaker.create_endpoint(EndpointName="fwd", EndpointConfigName="fwd")["EndpointArn"]
    described = wait_status(sagemaker, "fwd", "InService")
    assert described["EndpointArn"] == arn
    assert _client(a, "sagemaker").describe_endpoint(EndpointName="fwd")["EndpointArn"] == arn

    for url in (b, a):
        body = _client(url, "sagemaker-runtime").invoke_endpoint(
            EndpointName="fwd", Body=b'{"instances": [1]}', ContentType="application/json",
        )["Body"].read()  # fmt: skip
        assert b'"instances": [2]' in body

    cloudwatch = _client(b, "cloudwatch")
    minute = int(time.time()) // 60 * 60
    cloudwatch.put_metric_data(Namespace="Forwarded", MetricData=[
        {"MetricName": "Calls", "Value": 7.0, "Timestamp": minute}])  # fmt: skip
    query = {"Id": "calls", "MetricStat": {"Metric": {"Namespace": "Forwarded",
             "MetricName": "Calls"}, "Period": 60, "Stat": "Sum"}}  # fmt: skip
    got = cloudwatch.get_metric_data(MetricDataQueries=[query], StartTime=minute - 60,
                                     EndTime=minute + 60)["MetricDataResults"]  # fmt: skip
    assert [(r["Id"], r["Values"]) for r in got] == [("calls", [7.0])]

    logs = _client(b, "logs")
    logs.create_log_group(logGroupName="forwarded")
    logs.create_log_stream(logGroupName="forwarded", logStreamName="s")
    now_ms = int(time.time() * 1000)
    logs.put_log_events(logGroupName="forwarded", logStreamName="s", logEvents=[
        {"timestamp": now_ms, "message": "one"}, {"timestamp": now_ms, "message": "two"}])
    events = logs.get_log_events(logGroupName="forwarded", logStreamName="s",
                                 startFromHead=True)["events"]  # fmt: skip
    assert [e["message"] for e in events] == ["one", "two"]

    s3 = _client(b, "s3")
    s3.create_bucket(Bucket="forwarded")
    payload = os.urandom(3 * 1024 * 1024)  # past botocore's Expect: 100-continue threshold
    s3.put_object(Bucket="forwarded", Key="blob", Body=payload)
    assert s3.get_object(Bucket="forwarded", Key="blob")["Body"].read() == payload
    assert s3.head_object(Bucket="forwarded", Key="blob")["ContentLength"] == len(payload)

    # The container's pid, from its log stream (read through B too).
    group = "/aws/sagemaker/Endpoints/fwd"

    def container_pid() -> int | None:
        for stream in logs.describe_log_streams(logGroupName=group)["logStreams"]:
            for event in logs.get_log_events(logGroupName=group,
                                             logStreamName=stream["logStreamName"],
                                             startFromHead=True)["events"]:  # fmt: skip
                if match := re.search(r"pid (\d+)", event["message"]):
                    return int(match.group(1))
        return None

    pid = wait_until(container_pid, "the container's pid in its log stream")
    assert _alive(pid)
    sagemaker.delete_endpoint(EndpointName="fwd")

    def gone_on_a() -> bool:
        try:
            _client(a, "sagemaker").describe_endpoint(EndpointName="fwd")
        except ClientError as exc:
            return exc.response["Error"]["Code"] == "ValidationException"
        return False

    wait_until(gone_on_a, "the endpoint gone in the leader's view")
    wait_until(lambda: not _alive(pid), "the container process to exit")


def _create_endpoint(url: str, name: str) -> tuple[str, Any]:
    try:
        return "created", _client(url, "sagemaker").create_endpoint(
            EndpointName=name, EndpointConfigName="fwd")["EndpointArn"]
    except ClientError as exc:
        error = exc.response["Error"]
        return "refused", (exc.response["ResponseMetadata"]["HTTPStatusCode"], error["Code"],
                           error["Message"])  # fmt: skip


def test_two_clients_racing_one_name_through_leader_and_standby_one_wins(
    servers: Servers,
) -> None:
    urls = {"leader": servers.leader.url, "standby": servers.standby_url}
    results: dict[str, tuple[str, Any]] = {}
    barrier = threading.Barrier(2)

    def race(who: str) -> None:
        barrier.wait()
        results[who] = _create_endpoint(urls[who], "race")

    threads = [threading.Thread(target=race, args=(who,)) for who in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        outcomes = sorted(outcome for outcome, _ in results.values())
        assert outcomes == ["created", "refused"], results
        [refusal] = [detail for outcome, detail in results.values() if outcome == "refused"]
        # Exactly what one server answers a duplicate name.
        assert _create_endpoint(servers.leader.url, "race") == ("refused", refusal)
        assert refusal[:2] == (400, "ValidationException")
        assert "race" in refusal[2]
    finally:
        sagemaker = _client(servers.leader.url, "sagemaker")
        wait_status(sagemaker, "race", "InService")
        sagemaker.delete_endpoint(EndpointName="race")


def test_the_standby_leads_within_5_s_of_the_leader_s_kill_and_answers_itself(
    servers: Servers,
) -> None:
    servers.leader.kill()
    killed = time.monotonic()
    wait_until(lambda: servers.standby.url != "", "the standby to lead", timeout=30)
    took = time.monotonic() - killed
    assert took < TAKEOVER_LIMIT, f"{took:.2f} s"
    assert servers.standby.url == servers.standby_url  # the same port
    sagemaker = _client(servers.standby_url, "sagemaker")
    sagemaker.create_model(ModelName="after", Containers=[stage_container("only")])
    assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == ["after", "fwd"]
    assert sagemaker.list_endpoints()["Endpoints"] == []
