"""Tier (c): a served 3-container serial pipeline traced into a real OTLP/HTTP receiver.

The receiver decodes with ``opentelemetry-proto``; the client is boto3 (a ``before-sign``
hook adds the W3C headers a traced caller would send).
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.request
from collections import defaultdict
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.e2e.support import client, deploy, stage_container
from tests.server_process import ServerProcess
from tests.tracing.receiver import OtlpReceiver, attributes

pytestmark = pytest.mark.slow

CONTAINERS = ("c1", "c2", "c3")


@pytest.fixture(scope="module")
def server(traced_server: ServerProcess) -> ServerProcess:
    deploy(client(traced_server, "sagemaker"), "traced",
           [stage_container(name) for name in CONTAINERS])
    return traced_server


def _runtime(server: ServerProcess, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    runtime = client(server, "sagemaker-runtime")
    if headers:
        def add(request, **_: object) -> None:  # type: ignore[no-untyped-def]
            for key, value in headers.items():
                request.headers[key] = value

        runtime.meta.events.register("before-sign.sagemaker-runtime.InvokeEndpoint", add)
    return runtime


def _invoke(runtime, body: dict, endpoint: str = "traced") -> dict:  # type: ignore[no-untyped-def,type-arg]
    response = runtime.invoke_endpoint(EndpointName=endpoint, Body=json.dumps(body),
                                       ContentType="application/json")
    return json.loads(response["Body"].read())


def _traces(spans: list[tuple[str, Span]], endpoint: str) -> dict[bytes, list[Span]]:
    by_trace: dict[bytes, list[Span]] = defaultdict(list)
    for _service, span in spans:
        if attributes(span).get("tandem.endpoint.name") == endpoint:
            by_trace[span.trace_id].append(span)
    return by_trace


def _stat(cloudwatch, metric: str, dims: dict[str, str]) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    now = dt.datetime.now(dt.UTC)
    points = cloudwatch.get_metric_statistics(
        Namespace="AWS/SageMaker", MetricName=metric,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims.items()],
        StartTime=now - dt.timedelta(hours=1), EndTime=now + dt.timedelta(minutes=5),
        Period=60, Statistics=["Sum", "SampleCount"])["Datapoints"]
    return sum(p["SampleCount"] for p in points), sum(p["Sum"] for p in points)


def test_each_request_is_one_trace_whose_spans_match_the_latency_metrics(
        server: ServerProcess, receiver: OtlpReceiver) -> None:
    runtime = _runtime(server)
    requests = 5
    for i in range(requests):
        assert _invoke(runtime, {"instances": [[i]]})["instances"] == [[i + 3]]
    spans = receiver.wait_for(
        lambda s: sum(len(v) for v in _traces(s, "traced").values()) >= requests * 4)
    traces = _traces(spans, "traced")
    assert len(traces) == requests
    # The resource names the server: its advertised URL.
    assert {instance for instance, span in receiver.spans("service.instance.id")
            if attributes(span).get("tandem.endpoint.name") == "traced"} == {server.url}
    container_us: dict[str, float] = defaultdict(float)
    model_us = 0.0
    for trace in traces.values():
        servers = [s for s in trace if s.kind == Span.SPAN_KIND_SERVER]
        clients = sorted((s for s in trace if s.kind == Span.SPAN_KIND_CLIENT),
                         key=lambda s: s.start_time_unix_nano)
        assert len(servers) == 1 and len(clients) == 3
        root = servers[0]
        assert root.parent_span_id == b""
        assert root.name == "POST /endpoints/{name}/invocations"
        attrs = attributes(root)
        assert attrs["http.request.method"] == "POST"
        assert attrs["http.response.status_code"] == 200
        assert attrs["url.path"] == "/endpoints/traced/invocations"
        assert attrs["http.route"] == "/endpoints/{name}/invocations"
        assert attrs["server.address"] == "127.0.0.1"
        assert attrs["server.port"] == int(server.url.rsplit(":", 1)[1])
        assert attrs["tandem.variant.name"] == "AllTraffic"
        assert str(attrs["tandem.instance.id"]).startswith("i-")
        assert root.status.code == Status.STATUS_CODE_UNSET
        assert [attributes(c)["tandem.container.name"] for c in clients] == list(CONTAINERS)
        previous_end = root.start_time_unix_nano
        for span in clients:
            a = attributes(span)
            assert span.parent_span_id == root.span_id and span.name == "POST"
            assert a["http.response.status_code"] == 200 and a["server.address"] == "127.0.0.1"
            assert str(a["url.full"]).startswith("http://127.0.0.1:")
            assert a["tandem.instance.id"] == attrs["tandem.instance.id"]
            assert previous_end <= span.start_time_unix_nano < span.end_time_unix_nano
            previous_end = span.end_time_unix_nano
            duration = (span.end_time_unix_nano - span.start_time_unix_nano) / 1000
            container_us[str(a["tandem.container.name"])] += duration
            model_us += duration
        assert previous_end <= root.end_time_unix_nano
    cloudwatch = client(server, "cloudwatch")
    dims = {"EndpointName": "traced", "VariantName": "AllTraffic"}
    deadline = time.monotonic() + 30
    while _stat(cloudwatch, "ModelLatency", dims)[0] < requests:
        assert time.monotonic() < deadline, "ModelLatency datapoints never arrived"
        time.sleep(0.2)
    count, total = _stat(cloudwatch, "ModelLatency", dims)
    assert count == requests
    assert total == pytest.approx(model_us, rel=0.01)
    for name in CONTAINERS:
        count, total = _stat(cloudwatch, "ContainerLatency", {**dims, "ContainerName": name})
        assert count == requests
        assert total == pytest.approx(container_us[name], rel=0.01)


def test_client_traceparent_is_continued_and_each_container_sees_its_parent_span(
        server: ServerProcess, receiver: OtlpReceiver) -> None:
    trace_hex, parent_hex = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    runtime = _runtime(server, {"traceparent": f"00-{trace_hex}-{parent_hex}-01",
                                "tracestate": "vendor=abc,other=1"})
    body = _invoke(runtime, {"instances": [[1]], "echo_trace": True})
    trace_id = bytes.fromhex(trace_hex)
    spans = receiver.wait_for(
        lambda s: sum(1 for _, span in s if span.trace_id == trace_id) >= 4)
    mine = [span for _, span in spans if span.trace_id == trace_id]
    root = next(s for s in mine if s.kind == Span.SPAN_KIND_SERVER)
    assert root.parent_span_id == bytes.fromhex(parent_hex)
    assert root.trace_state == "vendor=abc,other=1"
    assert root.flags & 0x1 and root.flags & 0x200  # sampled; parent is remote
    clients = {attributes(s)["tandem.container.name"]: s for s in mine
               if s.kind == Span.SPAN_KIND_CLIENT}
    seen = {name: (traceparent, state) for name, traceparent, state in body["traceparents"]}
    assert sorted(seen) == sorted(CONTAINERS)
    for name in CONTAINERS:
        version, sent_trace, sent_parent, flags = seen[name][0].split("-")
        assert (version, sent_trace, flags) == ("00", trace_hex, "01")
        assert bytes.fromhex(sent_parent) == clients[name].span_id
        assert seen[name][1] == "vendor=abc,other=1"


def test_unsampled_caller_is_propagated_but_not_exported(
        server: ServerProcess, receiver: OtlpReceiver) -> None:
    trace_hex = "11111111111111111111111111111111"
    runtime = _runtime(server, {"traceparent": f"00-{trace_hex}-2222222222222222-00"})
    body = _invoke(runtime, {"instances": [[1]], "echo_trace": True})
    assert all(tp.split("-")[1] == trace_hex and tp.endswith("-00")
               for _, tp, _ in body["traceparents"])
    # A later sampled request's spans arriving means this one's would have by now.
    marker = "33333333333333333333333333333333"
    _invoke(_runtime(server, {"traceparent": f"00-{marker}-2222222222222222-01"}),
            {"instances": [[1]]})
    spans = receiver.wait_for(lambda s: any(sp.trace_id.hex() == marker for _, sp in s))
    assert not [sp for _, sp in spans if sp.trace_id.hex() == trace_hex]


def test_model_error_marks_the_spans_and_names_the_trace(
        server: ServerProcess, receiver: OtlpReceiver) -> None:
    runtime = _runtime(server)
    with pytest.raises(ClientError) as info:
        _invoke(runtime, {"instances": [[1]], "status": 500, "fail_at": "c2"})
    error = info.value.response
    assert error["Error"]["Code"] == "ModelError"
    message = error["Error"]["Message"]
    assert message.endswith(".") and "Trace ID: " in message
    trace_hex = message.rsplit("Trace ID: ", 1)[1][:-1]
    assert len(trace_hex) == 32
    trace_id = bytes.fromhex(trace_hex)
    spans = receiver.wait_for(lambda s: sum(1 for _, sp in s if sp.trace_id == trace_id) >= 3)
    mine = [sp for _, sp in spans if sp.trace_id == trace_id]
    root = next(s for s in mine if s.kind == Span.SPAN_KIND_SERVER)
    assert root.status.code == Status.STATUS_CODE_ERROR
    assert "500" in root.status.message
    assert attributes(root)["error.type"] == "ModelError"
    assert attributes(root)["http.response.status_code"] == 424
    clients = sorted((s for s in mine if s.kind == Span.SPAN_KIND_CLIENT),
                     key=lambda s: s.start_time_unix_nano)
    assert [attributes(c)["tandem.container.name"] for c in clients] == ["c1", "c2"]
    assert clients[0].status.code == Status.STATUS_CODE_UNSET
    assert clients[1].status.code == Status.STATUS_CODE_ERROR
    assert attributes(clients[1])["error.type"] == "500"
    assert attributes(clients[1])["http.response.status_code"] == 500


def test_recent_trace_is_served_for_the_dashboard(server: ServerProcess) -> None:
    trace_hex = "5bf92f3577b34da6a3ce929d0e0e4736"
    _invoke(_runtime(server, {"traceparent": f"00-{trace_hex}-00f067aa0ba902b7-01"}),
            {"instances": [[1]]})
    with urllib.request.urlopen(f"{server.url}/tandem/traces/{trace_hex}") as response:
        data = json.loads(response.read())
    assert data["traceId"] == trace_hex
    kinds = [span["kind"] for span in data["spans"]]
    assert kinds == [2, 3, 3, 3]
    names = [span["attributes"].get("tandem.container.name") for span in data["spans"][1:]]
    assert names == list(CONTAINERS)
    assert all(span["durationMs"] > 0 for span in data["spans"])
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(f"{server.url}/tandem/traces/{'9' * 32}")
    assert missing.value.code == 404
    missing.value.close()


HANDLER = Path(__file__).resolve().parent / "handler"


def _handler_container(name: str) -> dict:  # type: ignore[type-arg]
    # A framework image name runs the built-in handler runtime.
    return {"ContainerHostname": name,
            "Image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:"
                     "1.2-1-cpu-py3",
            "Environment": {"SAGEMAKER_PROGRAM": "inference.py",
                            "SAGEMAKER_SUBMIT_DIRECTORY": str(HANDLER)}}


def test_handler_runtime_continues_the_trace_and_logs_its_id(
        server: ServerProcess, receiver: OtlpReceiver) -> None:
    deploy(client(server, "sagemaker"), "mixed", [stage_container("prep"),
                                                   _handler_container("model")])
    trace_hex = "6bf92f3577b34da6a3ce929d0e0e4736"
    runtime = _runtime(server, {"traceparent": f"00-{trace_hex}-00f067aa0ba902b7-01"})
    assert _invoke(runtime, {"instances": [[1, 2]]}, "mixed")["instances"] == [[20, 30]]
    trace_id = bytes.fromhex(trace_hex)
    spans = receiver.wait_for(
        lambda s: sum(1 for _, sp in s if sp.trace_id == trace_id) >= 1 + 2 + 1 + 3)
    mine = [(service, sp) for service, sp in spans if sp.trace_id == trace_id]
    router_client = next(sp for service, sp in mine if sp.kind == Span.SPAN_KIND_CLIENT
                         and attributes(sp)["tandem.container.name"] == "model")
    (container_server,) = [sp for service, sp in mine
                           if service == "model" and sp.kind == Span.SPAN_KIND_SERVER]
    assert container_server.parent_span_id == router_client.span_id
    assert container_server.name == "POST /invocations"
    children = sorted((sp for service, sp in mine if sp.kind == Span.SPAN_KIND_INTERNAL),
                      key=lambda sp: sp.start_time_unix_nano)
    assert [c.name for c in children] == ["input_fn", "predict_fn", "output_fn"]
    assert all(c.parent_span_id == container_server.span_id for c in children)
    assert (router_client.start_time_unix_nano <= container_server.start_time_unix_nano
            <= container_server.end_time_unix_nano <= router_client.end_time_unix_nano)
    logs = client(server, "logs")
    deadline = time.monotonic() + 30
    while True:
        events = logs.filter_log_events(logGroupName="/aws/sagemaker/Endpoints/mixed",
                                        filterPattern=f'"trace_id={trace_hex}"')["events"]
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    (event,) = events
    assert event["logStreamName"].endswith("/model")
    assert "predicting 1 rows" in event["message"]
    span_hex = container_server.span_id.hex()
    assert event["message"].rstrip().endswith(
        f"trace_id={trace_hex} span_id={span_hex} trace_flags={container_server.flags & 0xff:02x}")


def test_invalid_traceparent_starts_a_new_trace_and_drops_its_tracestate(
        server: ServerProcess) -> None:
    bad = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"  # uppercase: invalid
    body = _invoke(_runtime(server, {"traceparent": bad, "tracestate": "vendor=abc"}),
                   {"instances": [[1]], "echo_trace": True})
    traceparents = {tp for _, tp, _ in body["traceparents"]}
    trace_ids = {tp.split("-")[1] for tp in traceparents}
    assert len(trace_ids) == 1 and trace_ids != {"4bf92f3577b34da6a3ce929d0e0e4736"}
    assert all(tp.startswith("00-") and tp.endswith("-03") for tp in traceparents)  # new: random
    assert all(state is None for _, _, state in body["traceparents"])
