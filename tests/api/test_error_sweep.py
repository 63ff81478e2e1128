"""Every operation of SageMaker, SageMaker Runtime, CloudWatch Logs and Application Auto
Scaling, sent malformed requests: each answer is a 4xx in that protocol's error shape, never a
500 and never a hang.

awsJson (SageMaker, Logs, Application Auto Scaling): bad JSON, JSON that is not an object,
members of the wrong type and nested garbage (hypothesis), unknown members, missing required
members, a body over the size limit, unknown operations and a missing or unknown
X-Amz-Target. Operations of the botocore
models that tandem does not serve must still answer ``UnknownOperationException``.
rest-json (the runtime): bad names, missing endpoints, oversized bodies and headers, arbitrary
header values (hypothesis), other methods, and the runtime operations tandem does not serve.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import botocore.session
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.logs.server_thread import ServerThread

_SESSION = botocore.session.get_session()
SAGEMAKER = _SESSION.get_service_model("sagemaker")
LOGS = _SESSION.get_service_model("logs")
RUNTIME = _SESSION.get_service_model("sagemaker-runtime")
AUTOSCALING = _SESSION.get_service_model("application-autoscaling")
# The operations this task serves; others (SageMaker jobs) are found by probing and swept too.
SERVED = {
    "SageMaker": [
        "CreateModel",
        "DescribeModel",
        "ListModels",
        "DeleteModel",
        "CreateEndpointConfig",
        "DescribeEndpointConfig",
        "ListEndpointConfigs",
        "DeleteEndpointConfig",
        "CreateEndpoint",
        "DescribeEndpoint",
        "ListEndpoints",
        "DeleteEndpoint",
        "UpdateEndpoint",
        "UpdateEndpointWeightsAndCapacities",
        "AddTags",
        "ListTags",
        "DeleteTags",
    ],
    "Logs_20140328": [
        "CreateLogGroup",
        "DeleteLogGroup",
        "DescribeLogGroups",
        "CreateLogStream",
        "DeleteLogStream",
        "DescribeLogStreams",
        "PutLogEvents",
        "GetLogEvents",
        "FilterLogEvents",
        "PutRetentionPolicy",
        "DeleteRetentionPolicy",
        "StartLiveTail",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "TagLogGroup",
        "UntagLogGroup",
        "ListTagsLogGroup",
    ],
    "AnyScaleFrontendService": [
        "RegisterScalableTarget",
        "DeregisterScalableTarget",
        "DescribeScalableTargets",
        "PutScalingPolicy",
        "DescribeScalingPolicies",
        "DeleteScalingPolicy",
        "DescribeScalingActivities",
    ],
}
MODELS = {"SageMaker": SAGEMAKER, "Logs_20140328": LOGS, "AnyScaleFrontendService": AUTOSCALING}
EXAMPLES = 25
LENIENT: list[str] = []  # operations of other services that ignore unknown members
HUGE = 8 * 1024 * 1024 + 1  # one byte over the server's limit
COUNTS: Counter[str] = Counter()
# test_sweep_count checks what the tests before it sent, so the module runs in file order, in
# the serial pass (pytest-xdist does not keep a module's order on its worker).
pytestmark = pytest.mark.serial
_LOCK = threading.Lock()


class Wire:
    """One keep-alive connection; each request has a timeout, so a hang fails the test."""

    def __init__(self, url: str) -> None:
        self.netloc = urlsplit(url).netloc
        self.conn = http.client.HTTPConnection(self.netloc, timeout=20)

    def send(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        for attempt in (0, 1):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                return (
                    response.status,
                    {k.lower(): v for k, v in response.getheaders()},
                    response.read(),
                )
            except (ConnectionError, http.client.HTTPException):
                # The server may close a connection after refusing a huge body: reconnect.
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.netloc, timeout=20)
                if attempt:
                    raise
        raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    running = ServerThread(tmp_path_factory.mktemp("tandem-sweep")).start()
    yield running
    running.stop()
    total = sum(COUNTS.values())
    print(
        f"\nerror sweep: {total} malformed requests, all 4xx in their protocol's shape: "
        + ", ".join(f"{k}={v}" for k, v in sorted(COUNTS.items()))
    )
    if LENIENT:
        print(f"operations that ignore unknown members: {', '.join(LENIENT)}")


@pytest.fixture(scope="module")
def wire(server: ServerThread) -> Iterator[Wire]:
    connection = Wire(server.url)
    yield connection
    connection.conn.close()


def _check_json_error(
    answer: tuple[int, dict[str, str], bytes], what: str, code: str | None = None
) -> dict[str, Any]:
    status, headers, body = answer
    assert 400 <= status < 500, (what, status, body[:300])
    assert headers["content-type"].startswith("application/x-amz-json-1.1"), (what, headers)
    assert headers.get("x-amzn-requestid")
    payload = json.loads(body)
    assert isinstance(payload.get("__type"), str) and isinstance(payload.get("message"), str), (
        what,
        payload,
    )
    if code is not None:
        assert payload["__type"] == code, (what, payload)
    return payload


def _aws_json(
    wire: Wire, target: str | None, body: bytes, what: str, code: str | None = None
) -> dict[str, Any]:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    if target is not None:
        headers["X-Amz-Target"] = target
    payload = _check_json_error(wire.send("POST", "/", body, headers), what, code)
    with _LOCK:
        COUNTS[target.split(".")[0] if target else "no-target"] += 1
    return payload


# -- value strategies ---------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**6), 10**6)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _is_type(type_name: str, value: Any) -> bool:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    return {
        "string": isinstance(value, str),
        "blob": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "long": isinstance(value, int) and not isinstance(value, bool),
        "float": number,
        "double": number,
        "timestamp": number or isinstance(value, str),
        "boolean": isinstance(value, bool),
        "list": isinstance(value, list),
        "structure": isinstance(value, dict),
        "map": isinstance(value, dict),
    }.get(type_name, True)


def _valid(shape: Any) -> Any:
    return {
        "string": "sweep-x",
        "blob": "eA==",
        "integer": 1,
        "long": 1,
        "float": 1.0,
        "double": 1.0,
        "timestamp": 0,
        "boolean": True,
        "list": [],
        "structure": {},
        "map": {},
    }.get(shape.type_name, "x")


def _nested_garbage(shape: Any) -> st.SearchStrategy[Any]:
    """Structures with the shape's own member names holding arbitrary JSON."""
    if shape.type_name == "structure" and shape.members:
        return st.dictionaries(st.sampled_from(sorted(shape.members)), JSON, max_size=4)
    if shape.type_name == "list" and shape.member.type_name == "structure":
        return st.lists(_nested_garbage(shape.member), min_size=1, max_size=2)
    return JSON


def _input(prefix: str, op: str) -> Any:
    return MODELS[prefix].operation_model(op).input_shape


def _required(prefix: str, op: str) -> dict[str, Any]:
    """Valid-looking values for the required members of this task's operations. Other
    services' operations (SageMaker jobs, which start processes) get none, so a malformed
    request can never create anything there."""
    if op not in SERVED[prefix]:
        return {}
    shape = _input(prefix, op)
    return {name: _valid(shape.members[name]) for name in shape.required_members}


@st.composite
def _bad_bodies(draw: Any, prefix: str, op: str) -> dict[str, Any]:
    shape = _input(prefix, op)
    body = _required(prefix, op)
    name = draw(st.sampled_from(sorted(shape.members)))
    member = shape.members[name]
    if draw(st.booleans()) and member.type_name in ("structure", "list"):
        body[name] = draw(_nested_garbage(member))
    else:
        body[name] = draw(
            JSON.filter(lambda v: v is not None and not _is_type(member.type_name, v))
        )
    return body


# -- awsJson ------------------------------------------------------------------------------------


def _malformed_envelopes(wire: Wire, prefix: str, op: str) -> None:
    target = f"{prefix}.{op}"
    shape = _input(prefix, op)
    for body in (b'{"a": ', b"\xff\xfe", b"[]", b'"text"', b"42", b"null"):
        _aws_json(wire, target, body, f"{target} {body!r}", "SerializationException")
    required = _required(prefix, op)
    if op in SERVED[prefix]:
        _aws_json(
            wire,
            target,
            json.dumps({**required, "NoSuchMember": 1}).encode(),
            f"{target} unknown member",
        )
    else:
        # Other services choose their own policy for unknown members; never a 5xx.
        answer = wire.send(
            "POST",
            "/",
            b'{"NoSuchMember": 1}',
            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
        )
        if answer[0] == 200:
            LENIENT.append(target)
        else:
            _check_json_error(answer, f"{target} unknown member")
    if required:
        _aws_json(wire, target, b"{}", f"{target} missing required")
        for name in shape.required_members:
            partial = {k: v for k, v in required.items() if k != name}
            _aws_json(wire, target, json.dumps(partial).encode(), f"{target} without {name}")
    payload = _aws_json(wire, target, b" " * HUGE, f"{target} huge body")
    assert payload["__type"] == "RequestEntityTooLargeException"
    if op in SERVED[prefix]:
        _lone_surrogates(wire, target, shape, required)


def _lone_surrogates(wire: Wire, target: str, shape: Any, required: dict[str, Any]) -> None:
    """JSON may escape a lone surrogate (boto3 sends one as ``\\ud800``): each string member
    holding one is answered (a match of nothing, or a 400), never a 500. Logs' group and
    stream named as in ``_required`` exist, so each request reaches the store."""
    if target.startswith("Logs_20140328."):
        for op, body in (("CreateLogGroup", {"logGroupName": "sweep-x"}),
                         ("CreateLogStream", {"logGroupName": "sweep-x",
                                              "logStreamName": "sweep-x"})):  # fmt: skip
            wire.send(
                "POST", "/", json.dumps(body).encode(),
                {"Content-Type": "application/x-amz-json-1.1",
                 "X-Amz-Target": f"Logs_20140328.{op}"},
            )  # fmt: skip  (an existing one answers 400: fine)
    for name, member in sorted(shape.members.items()):
        if member.type_name != "string":
            continue
        base = dict(required)
        if target.startswith("Logs_20140328.") and "logGroupName" in shape.members:
            base.setdefault("logGroupName", "sweep-x")  # optional in the reads: name it
        body = json.dumps({**base, name: "x\ud800"}).encode()
        answer = wire.send(
            "POST", "/", body,
            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
        )  # fmt: skip
        with _LOCK:
            COUNTS[target.partition(".")[0]] += 1
        if answer[0] != 200:
            _check_json_error(answer, f"{target} {name} with a lone surrogate")


def _wrong_member_types(wire: Wire, prefix: str, op: str) -> None:
    target = f"{prefix}.{op}"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow],
    )
    @given(body=_bad_bodies(prefix, op))
    def check(body: dict[str, Any]) -> None:
        status, headers, raw = wire.send(
            "POST",
            "/",
            json.dumps(body).encode(),
            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
        )
        with _LOCK:
            COUNTS[prefix] += 1
        if status == 200:
            if headers.get("content-type") == "application/vnd.amazon.eventstream":
                raise AssertionError(f"{target} streamed for {body}")
            return  # garbage that happens to be valid (an optional member ignored): fine
        _check_json_error((status, headers, raw), f"{target} {body}")

    check()


def _probe(wire: Wire, prefix: str) -> list[str]:
    """The model's operations this server serves; each unknown one must answer a 400
    UnknownOperationException (counted)."""
    served = []
    for op in sorted(MODELS[prefix].operation_names):
        status, headers, raw = wire.send(
            "POST",
            "/",
            b"{}",
            {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"{prefix}.{op}"},
        )
        if status != 200 and json.loads(raw).get("__type") == "UnknownOperationException":
            _check_json_error((status, headers, raw), op)
            with _LOCK:
                COUNTS[prefix] += 1
        else:
            served.append(op)
    return served


@pytest.mark.parametrize("prefix", sorted(SERVED))
def test_every_operation_of_the_model(wire: Wire, prefix: str) -> None:
    """Each operation of the botocore model is unknown (400 UnknownOperationException) or
    served; this task's served operations are swept with every malformation."""
    served = _probe(wire, prefix)
    assert set(SERVED[prefix]) <= set(served)
    for op in SERVED[prefix]:
        _malformed_envelopes(wire, prefix, op)
        _wrong_member_types(wire, prefix, op)
    print(
        f"\n{prefix}: {len(served)} operations served, "
        f"{len(MODELS[prefix].operation_names) - len(served)} answered as unknown"
    )


@pytest.mark.parametrize("prefix", sorted(SERVED))
def test_operations_of_other_services_sharing_the_prefix(wire: Wire, prefix: str) -> None:
    """SageMaker's jobs service shares the SageMaker target prefix: the same sweep, every
    finding collected before failing."""
    findings = []
    for op in sorted(set(_probe(wire, prefix)) - set(SERVED[prefix])):
        for sweep in (_malformed_envelopes, _wrong_member_types):
            try:
                sweep(wire, prefix, op)
            except AssertionError as exc:
                findings.append(f"{op}: {str(exc).splitlines()[0][:200]}")
    assert findings == [], "\n".join(findings)


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "SageMaker",
        "SageMaker.",
        "Nope.CreateModel",
        "SageMaker.NoSuchOperation",
        "Logs_20140328.NoSuchOperation",
        "Logs_20140328.createLogGroup",
    ],
)
def test_missing_or_unknown_target(wire: Wire, target: str | None) -> None:
    _aws_json(wire, target, b"{}", f"target {target!r}", "UnknownOperationException")


# -- rest-json (runtime) ------------------------------------------------------------------------


def _runtime(
    wire: Wire,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    what: str,
    status_range: tuple[int, int] = (400, 500),
) -> str:
    status, response_headers, raw = wire.send(method, path, body, headers)
    assert status_range[0] <= status < status_range[1], (what, status, raw[:300])
    code = response_headers.get("x-amzn-errortype")
    assert code, (what, response_headers)
    assert response_headers["content-type"].startswith("application/json")
    assert isinstance(json.loads(raw).get("message", json.loads(raw).get("Message")), str)
    with _LOCK:
        COUNTS["SageMakerRuntime"] += 1
    return code


def test_runtime_operations_are_all_swept(wire: Wire) -> None:
    assert sorted(RUNTIME.operation_names) == [
        "InvokeEndpoint",
        "InvokeEndpointAsync",
        "InvokeEndpointWithResponseStream",
    ]
    for op, path in [
        ("InvokeEndpointAsync", "/endpoints/e/async-invocations"),
        ("InvokeEndpointWithResponseStream", "/endpoints/e/invocations-response-stream"),
        ("unknown path", "/endpoints/e/other"),
        ("unknown path", "/endpoints/"),
    ]:
        assert _runtime(wire, "POST", path, b"{}", {}, op) == "UnknownOperationException"
    for method in ("GET", "PUT", "DELETE"):
        _runtime(wire, method, "/endpoints/e/invocations", b"", {}, f"{method} invocations")


@pytest.mark.parametrize(
    ("what", "path", "body", "headers"),
    [
        ("missing endpoint", "/endpoints/absent/invocations", b"{}", {}),
        ("bad name", "/endpoints/bad_name%21/invocations", b"{}", {}),
        ("long name", "/endpoints/" + "a" * 64 + "/invocations", b"{}", {}),
        ("huge body", "/endpoints/absent/invocations", b"x" * (6 * 1024 * 1024 + 1), {}),
        (
            "long custom attributes",
            "/endpoints/absent/invocations",
            b"{}",
            {"X-Amzn-SageMaker-Custom-Attributes": "a" * 1025},
        ),
        (
            "long target variant",
            "/endpoints/absent/invocations",
            b"{}",
            {"X-Amzn-SageMaker-Target-Variant": "v" * 64},
        ),
        (
            "long inference id",
            "/endpoints/absent/invocations",
            b"{}",
            {"X-Amzn-SageMaker-Inference-Id": "i" * 65},
        ),
    ],
)
def test_runtime_rejections_are_validation_errors(
    wire: Wire, what: str, path: str, body: bytes, headers: dict[str, str]
) -> None:
    assert _runtime(wire, "POST", path, body, headers, what) == "ValidationError"


_HEADER_VALUE = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=1100)


@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    values=st.fixed_dictionaries(
        {},
        optional={
            h: _HEADER_VALUE
            for h in (
                "X-Amzn-SageMaker-Custom-Attributes",
                "X-Amzn-SageMaker-Target-Variant",
                "X-Amzn-SageMaker-Target-Container-Hostname",
                "X-Amzn-SageMaker-Inference-Id",
                "Content-Type",
                "Accept",
            )
        },
    ),
    body=st.binary(max_size=200),
)
def test_runtime_arbitrary_headers_never_500(
    wire: Wire, values: dict[str, str], body: bytes
) -> None:
    headers = {k: v.strip() for k, v in values.items()}
    _runtime(wire, "POST", "/endpoints/absent/invocations", body, headers, f"headers {headers}")


def test_sweep_count(wire: Wire) -> None:
    """Runs last in this module: the sweep is as large as it claims."""
    total = sum(COUNTS.values())
    print(f"\nerror sweep so far: {total} requests: {dict(COUNTS)}")
    if len(COUNTS) >= 4:  # the whole module ran, not a selection
        assert COUNTS["SageMaker"] >= 434 + 14 * EXAMPLES
        assert COUNTS["Logs_20140328"] >= 106 + 12 * EXAMPLES
        assert COUNTS["SageMakerRuntime"] >= 50
