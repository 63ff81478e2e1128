"""The three wire formats byte for byte where clients depend on them: headers, content types,
tags, omitted elements, error shapes and statuses, gzip (any letter case)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from xml.etree import ElementTree

import cbor2
import pytest

from tandem.api.cloudwatch.errors import wire_error
from tandem.errors import InternalFailure, InvalidParameterValue, ResourceNotFound

from .support import ServerThread, eventually, unique_namespace
from .wire import XMLNS, encode, error_of, form, send

PROTOCOLS = ("json", "query", "cbor")
MINUTE = int((dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)).timestamp()) // 60 * 60


def _iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _put(url: str, ns: str) -> None:
    r = send(
        url,
        "json",
        "PutMetricData",
        json.dumps(
            {
                "Namespace": ns,
                "MetricData": [{"MetricName": "M", "Value": 2.5, "Timestamp": MINUTE + 7}],
            }
        ).encode(),
    )
    assert r.status == 200 and r.headers["x-amzn-RequestId"]


def _gms(ns: str) -> dict:  # type: ignore[type-arg]
    return {
        "Namespace": ns,
        "MetricName": "M",
        "Period": 60,
        "Statistics": ["Sum"],
        "StartTime": MINUTE - 60,
        "EndTime": MINUTE + 120,
    }


def test_json_response_and_success_headers(server: ServerThread) -> None:
    ns = unique_namespace()
    _put(server.url, ns)
    r = eventually(
        lambda: send(server.url, "json", "GetMetricStatistics", json.dumps(_gms(ns)).encode()),
        lambda r: json.loads(r.data)["Datapoints"],
    )
    assert r.headers["Content-Type"] == "application/x-amz-json-1.0"
    assert json.loads(r.data) == {
        "Label": "M",
        "Datapoints": [{"Timestamp": float(MINUTE), "Sum": 2.5, "Unit": "None"}],
    }


def test_cbor_timestamps_are_tag1_float64_and_empty_output_is_a0(server: ServerThread) -> None:
    ns = unique_namespace()
    put = send(
        server.url,
        "cbor",
        "PutMetricData",
        cbor2.dumps(
            {
                "Namespace": ns,
                "MetricData": [
                    {"MetricName": "M", "Value": 2.5, "Timestamp": cbor2.CBORTag(1, MINUTE + 7)}
                ],
            }
        ),
    )
    assert (put.status, put.data) == (200, b"\xa0")
    assert put.headers["Smithy-Protocol"] == "rpc-v2-cbor"
    body = {
        **_gms(ns),
        "StartTime": cbor2.CBORTag(1, MINUTE - 60),
        "EndTime": cbor2.CBORTag(1, float(MINUTE + 120)),
    }
    r = eventually(
        lambda: send(server.url, "cbor", "GetMetricStatistics", cbor2.dumps(body)),
        lambda r: cbor2.loads(r.data)["Datapoints"],
    )
    assert r.headers["Content-Type"] == "application/cbor"
    assert b"Timestamp\xc1\xfb" in r.data
    [point] = cbor2.loads(r.data)["Datapoints"]
    assert point["Timestamp"] == dt.datetime.fromtimestamp(MINUTE, dt.UTC)
    empty = send(server.url, "cbor", "ListMetrics", cbor2.dumps({"Namespace": unique_namespace()}))
    assert cbor2.loads(empty.data) == {"Metrics": []}


def test_query_xml_shape_and_omitted_next_token(server: ServerThread) -> None:
    ns = unique_namespace()
    _put(server.url, ns)
    params = {
        "Namespace": ns,
        "MetricName": "M",
        "Period": "60",
        "StartTime": str(MINUTE - 60),
        "EndTime": _iso(MINUTE + 120),
        "ExtendedStatistics.member.1": "p99",
    }
    r = eventually(
        lambda: send(server.url, "query", "", form("GetMetricStatistics", **params)),
        lambda r: b"<member>" in r.data,
    )
    assert r.status == 200 and r.headers["Content-Type"] == "text/xml"
    text = r.data.decode()
    assert text.startswith(
        '<GetMetricStatisticsResponse xmlns="http://monitoring.amazonaws.com/doc/2010-08-01/">'
    )
    stamp = dt.datetime.fromtimestamp(MINUTE, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        f"<Datapoints><member><Timestamp>{stamp}</Timestamp><Unit>None</Unit><ExtendedStatistics>"
        "<entry><key>p99</key><value>2.5</value></entry></ExtendedStatistics></member>"
        "</Datapoints>"
    ) in text
    listed = send(server.url, "query", "", form("ListMetrics", Namespace=unique_namespace()))
    assert b"<Metrics/>" in listed.data and b"NextToken" not in listed.data
    root = ElementTree.fromstring(listed.data)
    assert (
        root.find(f"{XMLNS}ResponseMetadata/{XMLNS}RequestId").text
        == listed.headers["x-amzn-RequestId"]
    )


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("encoding", ["gzip", "GZIP"])
def test_gzip_bodies_in_every_protocol(server: ServerThread, protocol: str, encoding: str) -> None:
    ns = unique_namespace()
    members = {
        "Namespace": ns,
        "MetricData": [{"MetricName": f"metric-number-{i:04d}", "Value": 1.0} for i in range(300)],
    }
    if protocol == "query":
        body = form(
            "PutMetricData",
            Namespace=ns,
            **{
                f"MetricData.member.{i + 1}.{k}": v
                for i in range(300)
                for k, v in (("MetricName", f"metric-number-{i:04d}"), ("Value", "1"))
            },
        )
    else:
        body = encode(protocol, "PutMetricData", members)
    assert len(body) >= 10240
    r = send(
        server.url,
        protocol,
        "PutMetricData",
        gzip.compress(body),
        headers={"Content-Encoding": encoding},
    )
    assert r.status == 200, r.data
    listed = eventually(
        lambda: json.loads(
            send(server.url, "json", "ListMetrics", json.dumps({"Namespace": ns}).encode()).data
        ),
        lambda d: len(d["Metrics"]) == 300,
    )
    assert len(listed["Metrics"]) == 300


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_error_shape_and_query_error_header(server: ServerThread, protocol: str) -> None:
    body = encode(
        protocol,
        "PutMetricData",
        {"Namespace": "NS", "MetricData": [{"MetricName": "M", "Value": 1, "Values": [1]}]}
        if protocol != "query"
        else {
            "Namespace": "NS",
            "MetricData.member.1.MetricName": "M",
            "MetricData.member.1.Value": "1",
            "MetricData.member.1.Values.member.1": "1",
        },
    )
    r = send(server.url, protocol, "PutMetricData", body)
    assert r.status == 400
    code, message = error_of(protocol, r)
    assert code == "InvalidParameterCombination"
    assert message.startswith(
        "The parameters MetricData.member.1.Value and MetricData.member.1.Values"
    )
    if protocol != "query":
        assert r.headers["x-amzn-query-error"] == "InvalidParameterCombination;Sender"
        type_name = (json.loads(r.data) if protocol == "json" else cbor2.loads(r.data))["__type"]
        assert (
            type_name == "com.amazonaws.cloudwatch.v2010_08_01#InvalidParameterCombinationException"
        )


def test_status_follows_query_mode() -> None:
    missing = wire_error(ResourceNotFound("gone"))
    assert (missing.status_for(True), missing.status_for(False), missing.query_code) == (
        404,
        400,
        "ResourceNotFound",
    )
    assert wire_error(InternalFailure("x")).status_for(False) == 500
    assert wire_error(InvalidParameterValue("x")).json_type == (
        "com.amazonaws.cloudwatch.v2010_08_01#InvalidParameterValueException"
    )
