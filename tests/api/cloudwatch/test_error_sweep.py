"""Every operation of every protocol, fed malformed bodies, answers a 4xx in its own error
shape: never a 500, never a hang. Hypothesis then fuzzes member types and counts the answers."""

from __future__ import annotations

import collections
import gzip
import json
from typing import Any

import cbor2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.api.cloudwatch import OPERATION_NAMES
from tandem.api.cloudwatch.shapes import INPUTS

from .support import ServerThread
from .wire import encode, error_of, form, send

PROTOCOLS = ("json", "query", "cbor")
# The members the "wrong types" bodies send with a wrong type.
_WRONG_TYPED = dict.fromkeys(
    ["Namespace", "MetricData", "MetricDataQueries", "StartTime", "MetricName", "Period",
     "Dimensions"]
)  # fmt: skip
HUGE = b"x" * (9 * 1024 * 1024)  # over the app's 8 MiB body limit
BOMB = gzip.compress(HUGE)  # 9 KiB on the wire, 9 MiB inflated

MALFORMED: dict[str, dict[str, bytes]] = {
    "json": {
        "bad json": b"{not json",
        "not an object": b"[1, 2]",
        "bad utf-8": b'{"a": "\xff"}',
        "deep nesting": b"[" * 100_000 + b"]" * 100_000,
        "wrong types": json.dumps(
            {
                "Namespace": 5,
                "MetricData": "x",
                "MetricDataQueries": {},
                "StartTime": "soon",
                "MetricName": [],
                "Period": "60",
                "Dimensions": 3,
            }
        ).encode(),
    },
    "cbor": {
        "bad cbor": b"\xff\xff\x1c",
        "truncated": cbor2.dumps({"Namespace": "N"})[:-1],
        "not a map": cbor2.dumps([1, 2]),
        "unknown tag": cbor2.dumps(cbor2.CBORTag(99, {})),
        "huge claimed length": b"\x9b\x7f\xff\xff\xff\xff\xff\xff\xff",
        "wrong types": cbor2.dumps(
            {
                "Namespace": 5,
                "MetricData": "x",
                "StartTime": "soon",
                "MetricDataQueries": {},
                "Period": 1.5,
                "Dimensions": 3,
            }
        ),
        "tag 1 over text": cbor2.dumps(
            {"StartTime": cbor2.CBORTag(1, "2024"), "Namespace": "N", "MetricName": "M"}
        ),
    },
    "query": {
        "bad utf-8": b"Action=ListMetrics&Namespace=%ff%fe\xff",
        "missing action": b"Version=2010-08-01&Namespace=N",
        "bad index": b"Namespace=N&Dimensions.member.0.Name=a&MetricData.member.x.Value=1"
        b"&MetricDataQueries.member.-1.Id=m",
        "conflicting keys": b"Namespace=N&MetricData=x&MetricData.member.1.MetricName=M",
        "wrong types": b"Namespace=N&MetricName=M&Period=sixty&StartTime=later&EndTime=x"
        b"&MetricDataQueries.member.1.Id=m&MaxDatapoints=1.5"
        b"&MetricData.member.1.MetricName=M&MetricData.member.1.Value=abc"
        b"&IncludeLinkedAccounts=maybe",
    },
}


def _with_action(protocol: str, operation: str, body: bytes) -> bytes:
    if protocol == "query" and not body.startswith(b"Action=") and b"Version" not in body:
        return f"Action={operation}&".encode() + body
    return body


def _assert_client_error(protocol: str, response: Any) -> str:
    assert 400 <= response.status < 500, (response.status, response.data[:300])
    code, message = error_of(protocol, response)
    assert code and message
    return code


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("operation", OPERATION_NAMES)
def test_malformed_bodies_get_4xx_error_shapes(
    server: ServerThread, protocol: str, operation: str
) -> None:
    codes = {}
    for name, body in MALFORMED[protocol].items():
        r = send(server.url, protocol, operation, _with_action(protocol, operation, body))
        if name in ("wrong types", "bad index") and not (
            _WRONG_TYPED.keys() & INPUTS[operation].members.keys()
        ):
            # None of the wrong members is the operation's: ignored, as unknown members are
            # (the answer is then the operation's own, e.g. a missing required member).
            if r.status != 200:
                codes[name] = _assert_client_error(protocol, r)
            continue
        assert r.status != 200, name
        codes[name] = _assert_client_error(protocol, r)
    r = send(
        server.url,
        protocol,
        operation,
        gzip.compress(b"x")[:-3] + b"zzz",
        headers={"Content-Encoding": "gzip", "Connection": "close"},
    )
    codes["bad gzip"] = _assert_client_error(protocol, r)
    r = send(
        server.url,
        protocol,
        operation,
        BOMB,
        headers={"Content-Encoding": "gzip", "Connection": "close"},
    )
    codes["gzip bomb"] = _assert_client_error(protocol, r)
    assert codes["gzip bomb"] == "RequestEntityTooLarge" and r.status == 413
    assert set(codes.values()) <= {
        "MalformedInput",
        "InvalidParameterValue",
        "MissingParameter",
        "RequestEntityTooLarge",
        "InvalidAction",
        "ValidationError",
    }


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_huge_body_is_refused_not_hung(server: ServerThread, protocol: str) -> None:
    """The server answers 413 before the client has sent everything, so the client may see the
    connection reset while still writing; either way it is refused promptly."""
    import urllib3

    try:
        r = send(server.url, protocol, "PutMetricData", HUGE)
    except urllib3.exceptions.ProtocolError:
        return
    assert r.status == 413 and _assert_client_error(protocol, r) == "RequestEntityTooLarge"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_unknown_operations(server: ServerThread, protocol: str) -> None:
    r = send(
        server.url,
        protocol,
        "DeleteEverything",
        form("DeleteEverything") if protocol == "query" else encode(protocol, "", {}),
    )
    assert _assert_client_error(protocol, r) == "InvalidAction"


def test_cbor_unknown_service_in_path(server: ServerThread) -> None:
    import urllib3

    r = urllib3.request(
        "POST",
        server.url + "/service/Other/operation/ListMetrics",
        body=b"\xa0",
        headers={"Smithy-Protocol": "rpc-v2-cbor"},
    )
    assert _assert_client_error("cbor", r) == "InvalidAction"


# -- fuzzing member types ----------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _members(operation: str) -> st.SearchStrategy[dict[str, Any]]:
    names = sorted(INPUTS[operation].members) + ["Bogus"]
    return st.dictionaries(st.sampled_from(names), _values, max_size=5)


TALLY: collections.Counter[tuple[str, int]] = collections.Counter()


def _query_form(members: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in members.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= _query_form(value, name + ".")
        elif isinstance(value, list):
            flat |= _query_form({f"member.{i + 1}": v for i, v in enumerate(value)}, name + ".")
        elif value is not None:
            flat[name] = str(value)
    return flat


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_fuzzed_member_types_never_500(server: ServerThread, protocol: str) -> None:
    @settings(
        max_examples=60,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(operation=st.sampled_from(OPERATION_NAMES), data=st.data())
    def run(operation: str, data: st.DataObject) -> None:
        members = data.draw(_members(operation))
        if protocol == "json":
            body = json.dumps(members, allow_nan=True).encode()
        elif protocol == "cbor":
            body = cbor2.dumps(members)
        else:
            body = form(operation, **_query_form(members))
        r = send(server.url, protocol, operation, body)
        TALLY[(protocol, r.status)] += 1
        if r.status != 200:
            _assert_client_error(protocol, r)

    run()
    seen = {status: n for (p, status), n in TALLY.items() if p == protocol}
    assert sum(seen.values()) >= 60 and all(s < 500 for s in seen), seen


@pytest.mark.parametrize("protocol", ["json", "cbor"])
def test_status_follows_query_mode_header(server: ServerThread, protocol: str) -> None:
    """With ``x-amzn-query-mode: true`` the query status (413 here); without it, 400."""
    gz = {"Content-Encoding": "gzip", "Connection": "close"}
    moded = send(server.url, protocol, "PutMetricData", BOMB, headers=gz)
    plain = send(
        server.url, protocol, "PutMetricData", BOMB, headers={**gz, "x-amzn-query-mode": "false"}
    )
    assert (moded.status, plain.status) == (413, 400)
    assert error_of(protocol, plain)[0] == "RequestEntityTooLarge"


def _surrogate_bodies(operation: str) -> list[dict[str, Any]]:
    """For each string member, top-level or in a dimension: a body holding a lone surrogate."""
    shape = INPUTS[operation]
    bodies = []
    for name, member in sorted(shape.members.items()):
        if member.kind == "string":
            bodies.append({name: "x\ud800"})
    for key in ("Name", "Value"):
        dims = [{"Name": "d", "Value": "v", key: "x\ud800"}]
        if "Dimensions" in shape.members:
            bodies.append({"Dimensions": dims})
        if "MetricData" in shape.members:
            bodies.append({"Namespace": "n", "MetricData": [
                {"MetricName": "m", "Value": 1.0, "Dimensions": dims}]})  # fmt: skip
    return bodies


@pytest.mark.parametrize("operation", OPERATION_NAMES)
def test_lone_surrogates_never_500(server: ServerThread, operation: str) -> None:
    """JSON can escape a lone surrogate (boto3 sends one as ``\\ud800``); no stored name holds
    one, so it matches nothing or is refused, and nothing answers 500."""
    for body in _surrogate_bodies(operation):
        r = send(server.url, "json", operation, json.dumps(body).encode())
        assert r.status < 500, (operation, body, r.status)
        if r.status != 200:
            _assert_client_error("json", r)
