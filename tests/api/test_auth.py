"""SigV4 verification: pure checks against botocore's own signer, then a server started with
``auth_file`` that accepts boto3 signing with a configured key and refuses the rest in each
protocol's error shape (awsJson, rest-json, CloudWatch json/query)."""

from __future__ import annotations

import datetime as dt
import http.client
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import botocore.auth
import botocore.credentials
import pytest
from botocore import UNSIGNED
from botocore.awsrequest import AWSRequest
from botocore.config import Config

from tandem.api.auth import (
    IncompleteSignature,
    InvalidSignature,
    MissingAuthenticationToken,
    SignedRequest,
    UnrecognizedClient,
    load_keys,
    sign,
    verify,
)
from tandem.errors import ConfigError
from tests.api.logs.server_thread import ServerThread

KEYS = {"AKIDTANDEM": "s3cr3t/with+chars", "AKIDOTHER": "other"}
NOW = dt.datetime(2026, 11, 25, 12, 0, 0, tzinfo=dt.UTC)


def _botocore_signed(
    method: str,
    url: str,
    body: bytes,
    headers: dict[str, str],
    key: str = "AKIDTANDEM",
    secret: str = KEYS["AKIDTANDEM"],
    service: str = "sagemaker",
) -> SignedRequest:
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    credentials = botocore.credentials.Credentials(key, secret)
    signer = botocore.auth.SigV4Auth(credentials, service, "eu-west-1")
    # botocore stamps the current time: sign with it and verify at that instant.
    signer.add_auth(request)
    parts = urlsplit(url)
    return SignedRequest(
        method,
        parts.path,
        parts.query,
        {k.lower(): v for k, v in request.headers.items()} | {"host": parts.netloc},
        body,
    )


def _now_of(req: SignedRequest) -> dt.datetime:
    return dt.datetime.strptime(req.headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", "http://127.0.0.1:1234/", b'{"EndpointName": "x"}'),
        ("POST", "http://127.0.0.1:1234/endpoints/my-endpoint/invocations", b"\x00\x01binary"),
        ("POST", "http://127.0.0.1:1234/endpoints/bad_name%21/invocations", b""),
        (
            "GET",
            "http://127.0.0.1:1234/?Action=ListMetrics&Version=2010-08-01&Namespace=A%2FB",
            b"",
        ),
    ],
)
def test_botocore_signatures_verify(method: str, url: str, body: bytes) -> None:
    req = _botocore_signed(
        method,
        url,
        body,
        {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "SageMaker.DescribeEndpoint",
        },
    )
    assert verify(req, KEYS, _now_of(req)) == "AKIDTANDEM"


def test_wrong_secret_unknown_key_and_tampering_are_refused() -> None:
    url = "http://127.0.0.1:1234/"
    req = _botocore_signed(
        "POST", url, b"{}", {"X-Amz-Target": "SageMaker.ListEndpoints"}, secret="wrong"
    )
    with pytest.raises(InvalidSignature) as info:
        verify(req, KEYS, _now_of(req))
    assert info.value.message.startswith("The request signature we calculated does not match")
    assert (info.value.code, info.value.status) == ("InvalidSignatureException", 403)
    req = _botocore_signed("POST", url, b"{}", {}, key="AKIDNOBODY")
    with pytest.raises(UnrecognizedClient) as unknown:
        verify(req, KEYS, _now_of(req))
    assert unknown.value.message == "The security token included in the request is invalid."
    good = _botocore_signed("POST", url, b"{}", {"X-Amz-Target": "SageMaker.ListEndpoints"})
    for tampered in (
        SignedRequest(good.method, good.raw_path, good.raw_query, good.headers, b'{"x": 1}'),
        SignedRequest(
            good.method,
            good.raw_path,
            good.raw_query,
            {**good.headers, "x-amz-target": "SageMaker.DeleteEndpoint"},
            good.body,
        ),
    ):
        with pytest.raises(InvalidSignature):
            verify(tampered, KEYS, _now_of(good))


def test_stale_missing_and_incomplete_signatures() -> None:
    good = _botocore_signed("POST", "http://127.0.0.1:1234/", b"{}", {})
    with pytest.raises(InvalidSignature) as info:
        verify(good, KEYS, _now_of(good) + dt.timedelta(minutes=16))
    assert info.value.message.startswith("Signature expired: ")
    unsigned = SignedRequest("POST", "/", "", {"host": "h"}, b"{}")
    with pytest.raises(MissingAuthenticationToken):
        verify(unsigned, KEYS, NOW)
    garbled = SignedRequest(
        "POST", "/", "", {"host": "h", "authorization": "AWS4-HMAC-SHA256 x"}, b"{}"
    )
    with pytest.raises(IncompleteSignature):
        verify(garbled, KEYS, NOW)


def test_presigned_query_string_verifies() -> None:
    request = AWSRequest(
        method="GET", url="http://127.0.0.1:1234/?Action=ListMetrics&Version=2010-08-01"
    )
    signer = botocore.auth.SigV4QueryAuth(
        botocore.credentials.Credentials("AKIDTANDEM", KEYS["AKIDTANDEM"]),
        "monitoring",
        "us-east-1",
        expires=60,
    )
    signer.add_auth(request)
    request.prepare()
    parts = urlsplit(request.url)
    req = SignedRequest("GET", parts.path, parts.query, {"host": parts.netloc}, b"")
    stamp = dict(p.split("=", 1) for p in parts.query.split("&"))["X-Amz-Date"]
    when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    assert verify(req, KEYS, when + dt.timedelta(seconds=30)) == "AKIDTANDEM"
    with pytest.raises(InvalidSignature):
        verify(req, KEYS, when + dt.timedelta(seconds=61))


def test_own_signer_agrees_with_verify() -> None:
    req = SignedRequest("POST", "/", "", {"host": "h:1", "x-amz-date": "20261125T120000Z"}, b"{}")
    signed = SignedRequest(
        req.method,
        req.raw_path,
        req.raw_query,
        {**req.headers, "authorization": sign(req, "AKIDOTHER", "other", NOW)},
        req.body,
    )
    assert verify(signed, KEYS, NOW) == "AKIDOTHER"


def test_keys_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text('[[keys]]\naccess_key_id = "A"\nsecret_access_key = "B"\n')
    assert load_keys(path) == {"A": "B"}
    path.write_text('[[keys]]\naccess_key_id = "A"\n')
    with pytest.raises(ConfigError, match=r"keys\[0\]: needs exactly"):
        load_keys(path)
    path.write_text("title = 1\n")
    with pytest.raises(ConfigError, match="expected one or more"):
        load_keys(path)


# -- a server with auth_file ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    root = tmp_path_factory.mktemp("tandem-auth")
    keys = root / "keys.toml"
    keys.write_text(
        "".join(
            f'[[keys]]\naccess_key_id = "{k}"\nsecret_access_key = "{v}"\n' for k, v in KEYS.items()
        )
    )
    running = ServerThread(root / "data", auth_file=keys).start()
    yield running
    running.stop()


def _client(
    server: ServerThread,
    service: str,
    key: str = "AKIDTANDEM",
    secret: str = KEYS["AKIDTANDEM"],
    **config: object,
):  # type: ignore[no-untyped-def]
    import boto3

    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}, **config),
    )  # type: ignore[arg-type]


def _code(call) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    import botocore.exceptions

    with pytest.raises(botocore.exceptions.ClientError) as info:
        call()
    return (
        info.value.response["Error"]["Code"],
        info.value.response["ResponseMetadata"]["HTTPStatusCode"],
    )


def test_configured_key_is_accepted_everywhere(server: ServerThread) -> None:
    assert _client(server, "sagemaker").list_endpoints()["Endpoints"] == []
    assert _client(server, "logs", "AKIDOTHER", "other").describe_log_groups()["logGroups"] == []
    assert "Metrics" in _client(server, "cloudwatch").list_metrics()
    runtime = _client(server, "sagemaker-runtime")
    # Past authentication, the runtime says what it says without auth.
    assert _code(lambda: runtime.invoke_endpoint(EndpointName="absent", Body=b"{}")) == (
        "ValidationError",
        400,
    )


@pytest.mark.parametrize("service", ["sagemaker", "logs", "sagemaker-runtime", "cloudwatch"])
def test_wrong_keys_are_refused_in_the_protocols_shape(server: ServerThread, service: str) -> None:
    calls = {
        "sagemaker": lambda c: c.list_endpoints(),
        "logs": lambda c: c.describe_log_groups(),
        "sagemaker-runtime": lambda c: c.invoke_endpoint(EndpointName="absent", Body=b"{}"),
        "cloudwatch": lambda c: c.list_metrics(),
    }
    unknown, bad = ("UnrecognizedClientException", 403), ("InvalidSignatureException", 403)
    if service == "cloudwatch":  # query-compatible: the query codes
        unknown, bad = ("InvalidClientTokenId", 403), ("SignatureDoesNotMatch", 403)
    assert _code(lambda: calls[service](_client(server, service, "AKIDNOBODY", "x"))) == unknown
    assert _code(lambda: calls[service](_client(server, service, secret="wrong"))) == bad
    missing = (
        "MissingAuthenticationToken"
        if service == "cloudwatch"
        else "MissingAuthenticationTokenException"
    )
    unsigned = _client(server, service, signature_version=UNSIGNED)
    assert _code(lambda: calls[service](unsigned)) == (missing, 403)


def test_cloudwatch_query_protocol_refusal_is_xml(server: ServerThread) -> None:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=10)
    conn.request(
        "POST",
        "/",
        body=b"Action=ListMetrics&Version=2010-08-01",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    assert response.status == 403
    assert "<Code>MissingAuthenticationToken</Code>" in body


def test_signed_body_over_128_kib_is_taken(server: ServerThread) -> None:
    """The checked body is handed on to the handler whole; a body over twice the re-feed
    buffer's limit once made aiohttp's parser assert (a 500 for a full PutLogEvents batch)."""
    logs = _client(server, "logs")
    logs.create_log_group(logGroupName="big-bodies")
    logs.create_log_stream(logGroupName="big-bodies", logStreamName="s")
    now = int(time.time() * 1000)
    events = [{"timestamp": now, "message": f"{i:05d} " + "x" * 1000} for i in range(600)]
    logs.put_log_events(logGroupName="big-bodies", logStreamName="s", logEvents=events)
    got = logs.get_log_events(logGroupName="big-bodies", logStreamName="s", startFromHead=True)
    assert [e["message"] for e in got["events"]] == [e["message"] for e in events]


def test_health_check_stays_open(server: ServerThread) -> None:
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.netloc, timeout=10)
    conn.request("GET", "/ping")
    assert conn.getresponse().status == 200
    conn.close()


@pytest.mark.slow
def test_serve_auth_flag(tmp_path: Path) -> None:
    """`tandem serve --auth keys.toml` as a user starts it."""
    from tests.server_process import FAST_FLAGS, ServerProcess

    keys = tmp_path / "keys.toml"
    keys.write_text('[[keys]]\naccess_key_id = "AKIDCLI"\nsecret_access_key = "cli-secret"\n')
    proc = ServerProcess(tmp_path / "data", extra=(*FAST_FLAGS, "--auth", str(keys))).start()
    try:
        import boto3

        def sagemaker(secret: str):  # type: ignore[no-untyped-def]
            return boto3.client(
                "sagemaker",
                endpoint_url=proc.url,
                region_name="us-east-1",
                aws_access_key_id="AKIDCLI",
                aws_secret_access_key=secret,
                config=Config(retries={"max_attempts": 1}),
            )

        assert sagemaker("cli-secret").list_models()["Models"] == []
        assert _code(lambda: sagemaker("nope").list_models()) == ("InvalidSignatureException", 403)
    finally:
        proc.stop()
