"""An exception no operation expects, on any route, is answered in the shape of the protocol the
request speaks (never aiohttp's text/plain 500), logged once with its traceback, and, for
InvokeEndpoint, counted: Invocations, Invocation5XXErrors and OverheadLatency, readable at once.
A request every instance refuses is counted as a 5XX too."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.exceptions
import pytest
import requests
from botocore.config import Config

from tandem.serving.hop_client import HopClient, HopConnectError
from tests.api.cloudwatch.support import PROTOCOLS, cloudwatch_client
from tests.e2e.support import deploy, stage_container
from tests.server_thread import ServerThread

pytestmark = pytest.mark.slow


class Boom(RuntimeError):
    pass


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise Boom("an unexpected failure")


async def _aboom(*args: Any, **kwargs: Any) -> Any:
    raise Boom("an unexpected failure")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    # Metrics are never flushed during the test: the counts are read from memory.
    server = ServerThread(
        tmp_path_factory.mktemp("tandem-unexpected"),
        metrics_flush_interval=3600.0,
        ping_interval=0.3,
        ping_timeout=1.0,
        health_check_timeout=30.0,
    ).start()
    try:
        yield server
    finally:
        server.stop()


_CLIENTS: dict[tuple[str, str], Any] = {}


def _client(srv: ServerThread, service: str) -> Any:
    """One client per service for the module (clients dropped mid-test leave sockets open)."""
    key = (srv.url, service)
    if key not in _CLIENTS:
        _CLIENTS[key] = _new_client(srv, service)
    return _CLIENTS[key]


def _new_client(srv: ServerThread, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=srv.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info and isinstance(r.exc_info[1], Boom)]


def _counts(srv: ServerThread, endpoint: str) -> dict[str, float]:
    cw = _client(srv, "cloudwatch")
    now = dt.datetime.now(dt.UTC)
    out = {}
    for metric in ("Invocations", "Invocation5XXErrors", "Invocation4XXErrors"):
        points = cw.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=[
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            StartTime=now - dt.timedelta(minutes=5),
            EndTime=now + dt.timedelta(minutes=2),
            Period=60,
            Statistics=["Sum"],
        )["Datapoints"]
        out[metric] = sum(p["Sum"] for p in points)
    for metric in ("OverheadLatency", "ModelLatency"):
        points = cw.get_metric_statistics(
            Namespace="AWS/SageMaker",
            MetricName=metric,
            Dimensions=[
                {"Name": "EndpointName", "Value": endpoint},
                {"Name": "VariantName", "Value": "AllTraffic"},
            ],
            StartTime=now - dt.timedelta(minutes=5),
            EndTime=now + dt.timedelta(minutes=2),
            Period=60,
            Statistics=["SampleCount"],
        )["Datapoints"]
        out[metric] = sum(p["SampleCount"] for p in points)
    return out


def test_invoke_endpoint_failure_is_internal_failure_and_counted(
    srv: ServerThread, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    deploy(_client(srv, "sagemaker"), "broken", [stage_container("a")])
    runtime = _client(srv, "sagemaker-runtime")
    ok = runtime.invoke_endpoint(
        EndpointName="broken", Body=b'{"instances": [[1]]}', ContentType="application/json"
    )
    assert ok["ResponseMetadata"]["HTTPStatusCode"] == 200
    monkeypatch.setattr(HopClient, "post", _aboom)
    caplog.set_level(logging.ERROR)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        runtime.invoke_endpoint(EndpointName="broken", Body=b"{}", ContentType="application/json")
    err = info.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert err["Error"]["Code"] == "InternalFailure"
    assert err["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert len(_tracebacks(caplog)) == 1
    assert _counts(srv, "broken") == {
        "Invocations": 2.0,
        "Invocation5XXErrors": 1.0,
        "Invocation4XXErrors": 0.0,
        "OverheadLatency": 2.0,
        "ModelLatency": 1.0,  # the failed request measured no time in a container
    }


def test_every_instance_refusing_is_a_counted_5xx(
    srv: ServerThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    deploy(_client(srv, "sagemaker"), "refusing", [stage_container("a")])

    async def refuse(self: HopClient, target: Any, headers: bytes, body: bytes) -> Any:
        raise HopConnectError("connection refused")

    monkeypatch.setattr(HopClient, "post", refuse)
    runtime = _client(srv, "sagemaker-runtime")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        runtime.invoke_endpoint(EndpointName="refusing", Body=b"{}")
    assert info.value.response["Error"]["Code"] == "ServiceUnavailable"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    counts = _counts(srv, "refusing")
    assert counts == {
        "Invocations": 1.0,
        "Invocation5XXErrors": 1.0,
        "Invocation4XXErrors": 0.0,
        "OverheadLatency": 1.0,
        "ModelLatency": 0.0,
    }


def test_sagemaker_and_logs_answer_internal_failure_in_json_1_1(
    srv: ServerThread, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    monkeypatch.setattr(srv.server.manager, "list_models", _aboom)
    monkeypatch.setattr(srv.server.logs.store, "list_groups", _boom)
    calls = [
        (_client(srv, "sagemaker").list_models, {}),
        (_client(srv, "logs").describe_log_groups, {}),
    ]
    for call, kwargs in calls:
        with pytest.raises(botocore.exceptions.ClientError) as info:
            call(**kwargs)
        response = info.value.response
        assert response["Error"]["Code"] == "InternalFailure"
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
            "application/x-amz-json-1.1"
        )
    assert len(_tracebacks(caplog)) == 2


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cloudwatch_answers_internal_failure_in_its_protocol(
    srv: ServerThread,
    protocol: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.ERROR)
    monkeypatch.setattr(srv.server.queries, "list_metrics", _boom)
    key = (srv.url, f"cloudwatch-{protocol}")
    if key not in _CLIENTS:
        _CLIENTS[key] = cloudwatch_client(srv.url, protocol)
    cw = _CLIENTS[key]
    with pytest.raises(botocore.exceptions.ClientError) as info:
        cw.list_metrics(Namespace="Any")
    response = info.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert response["Error"]["Code"] in ("InternalServiceFault", "InternalServiceError")
    assert not response["ResponseMetadata"]["HTTPHeaders"]["content-type"].startswith("text/plain")
    # Once per request (botocore retries a 500 here).
    assert len(_tracebacks(caplog)) == 1 + response["ResponseMetadata"]["RetryAttempts"]


def test_an_exception_outside_any_operation_keeps_the_protocol_shape(
    srv: ServerThread, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import tandem.api.app as app_module
    import tandem.api.prometheus as prometheus_module

    caplog.set_level(logging.ERROR)
    monkeypatch.setattr(app_module, "dispatch", _aboom)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        _client(srv, "sagemaker").list_endpoints()
    assert info.value.response["Error"]["Code"] == "InternalFailure"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # A scrape is no AWS protocol: a plain 500, logged once all the same.
    monkeypatch.setattr(prometheus_module, "render", _boom)
    with requests.Session() as session:
        scrape = session.get(f"{srv.url}/metrics", timeout=30)
    assert scrape.status_code == 500
    assert "server log" in scrape.text
    assert len(_tracebacks(caplog)) == 2
