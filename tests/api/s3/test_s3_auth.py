"""S3 with ``--auth``: botocore's SigV4 (header and presigned) with a configured key works,
streaming and multipart included; a wrong secret, an unknown key, a tampered URL or SigV2
get S3's 403 codes, and nothing is written."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.api.s3.conftest import s3_client
from tests.server_thread import ServerThread

pytestmark = pytest.mark.slow

KEY, SECRET = "AKIDS3TANDEM", "s3cr3t/with+chars"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    root = tmp_path_factory.mktemp("tandem-s3-auth")
    keys = root / "keys.toml"
    keys.write_text(f'[[keys]]\naccess_key_id = "{KEY}"\nsecret_access_key = "{SECRET}"\n')
    thread = ServerThread(root / "data", auth_file=keys).start()
    yield thread
    thread.stop()


def _code(error: ClientError) -> tuple[str, int]:
    return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]


def test_signed_requests_work(server: ServerThread, tmp_path: Path) -> None:
    s3: Any = s3_client(server.url, KEY, SECRET)
    s3.create_bucket(Bucket="signed")
    s3.put_object(Bucket="signed", Key="a key/with+odd=chars&x", Body=b"payload")
    assert s3.get_object(Bucket="signed", Key="a key/with+odd=chars&x")["Body"].read() == (
        b"payload")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="signed", Prefix="a key/")[
        "Contents"]] == ["a key/with+odd=chars&x"]
    big = tmp_path / "big"
    big.write_bytes(b"z" * (11 * 1024 * 1024))
    s3.upload_file(str(big), "signed", "big", Config=TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024))
    assert s3.head_object(Bucket="signed", Key="big")["ContentLength"] == 11 * 1024 * 1024
    url = s3_client(server.url, KEY, SECRET, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": "signed", "Key": "a key/with+odd=chars&x"},
        ExpiresIn=60)
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"payload"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url.replace("with%2Bodd", "with%2Bods"), timeout=10)
    assert refused.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()
    refused.value.close()


@pytest.mark.parametrize(
    ("key", "secret", "code"),
    [(KEY, "wrong", "SignatureDoesNotMatch"), ("AKIDUNKNOWN", SECRET, "InvalidAccessKeyId")],
)
def test_bad_signatures_are_refused(server: ServerThread, key: str, secret: str,
                                    code: str) -> None:
    good: Any = s3_client(server.url, KEY, SECRET)
    try:
        good.create_bucket(Bucket="guarded")
    except ClientError:
        pass
    bad: Any = s3_client(server.url, key, secret)
    for call in (
        lambda: bad.put_object(Bucket="guarded", Key="k", Body=b"1"),
        lambda: bad.get_object(Bucket="guarded", Key="k"),
        lambda: bad.list_objects_v2(Bucket="guarded"),
        lambda: bad.create_bucket(Bucket="never-made"),
        lambda: bad.list_buckets(),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert _code(refused.value) == (code, 403)
    with pytest.raises(ClientError) as refused:
        bad.head_object(Bucket="guarded", Key="k")
    assert _code(refused.value) == ("403", 403)  # HEAD: no body, the status alone
    assert "KeyCount" in good.list_objects_v2(Bucket="guarded")
    assert good.list_objects_v2(Bucket="guarded")["KeyCount"] == 0
    assert "never-made" not in [b["Name"] for b in good.list_buckets()["Buckets"]]


def test_sigv2_presigned_urls_and_headers(server: ServerThread) -> None:
    s3: Any = s3_client(server.url, KEY, SECRET)
    s3.create_bucket(Bucket="sigv2")
    s3.put_object(Bucket="sigv2", Key="a key+x", Body=b"v2 body")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "sigv2", "Key": "a key+x"},
                                    ExpiresIn=60)
    assert "AWSAccessKeyId=" in url  # botocore's default presigner in us-east-1
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"v2 body"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url.replace("a%20key", "b%20key"), timeout=10)
    assert refused.value.code == 403
    assert b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()
    refused.value.close()
    v2: Any = s3_client(server.url, KEY, SECRET, signature_version="s3")
    v2.put_object(Bucket="sigv2", Key="by-header", Body=b"signed v2", ContentType="text/plain")
    assert v2.get_object(Bucket="sigv2", Key="by-header")["Body"].read() == b"signed v2"
    wrong: Any = s3_client(server.url, KEY, "wrong", signature_version="s3")
    with pytest.raises(ClientError) as bad:
        wrong.get_object(Bucket="sigv2", Key="by-header")
    assert _code(bad.value) == ("SignatureDoesNotMatch", 403)


def _streaming_put(server: ServerThread, key: str, chunks: list[bytes],
                   tamper: bool = False) -> tuple[int, bytes]:
    """A PUT with a signed aws-chunked body, as the Java, Go and JS SDKs send it."""
    import datetime as dt
    import hashlib
    import hmac
    import http.client
    from urllib.parse import urlsplit

    url = urlsplit(server.url)
    now = dt.datetime.now(dt.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    scope = f"{day}/us-east-1/s3/aws4_request"
    path = f"/streaming/{key}"
    decoded = sum(len(c) for c in chunks)
    headers = {"host": url.netloc, "x-amz-date": amz_date,
               "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
               "content-encoding": "aws-chunked", "x-amz-decoded-content-length": str(decoded)}
    names = sorted(headers)
    canonical = "\n".join(["PUT", path, "", "".join(f"{n}:{headers[n]}\n" for n in names),
                           ";".join(names), "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"])
    signing = f"AWS4{SECRET}".encode()
    for part in scope.split("/"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()

    def sign(text: str) -> str:
        return hmac.new(signing, text.encode(), hashlib.sha256).hexdigest()

    seed = sign("\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                           hashlib.sha256(canonical.encode()).hexdigest()]))
    previous, body = seed, b""
    empty = hashlib.sha256(b"").hexdigest()
    for data in [*chunks, b""]:
        previous = sign("\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, empty,
                                   hashlib.sha256(data).hexdigest()]))
        sent = data.replace(b"a", b"b", 1) if tamper and data else data
        body += f"{len(data):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={KEY}/{scope}, "
                                f"SignedHeaders={';'.join(names)}, Signature={seed}")
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.request("PUT", path, body=body, headers=headers)
    response = conn.getresponse()
    answer = response.read()
    conn.close()
    return response.status, answer


def test_signed_chunks_are_verified(server: ServerThread) -> None:
    s3: Any = s3_client(server.url, KEY, SECRET)
    s3.create_bucket(Bucket="streaming")
    chunks = [b"a" * 65536, b"a" * 1000]
    assert _streaming_put(server, "good", chunks)[0] == 200
    assert s3.get_object(Bucket="streaming", Key="good")["Body"].read() == b"".join(chunks)
    status, answer = _streaming_put(server, "tampered", chunks, tamper=True)
    assert (status, b"<Code>SignatureDoesNotMatch</Code>" in answer) == (403, True)
    with pytest.raises(ClientError):
        s3.head_object(Bucket="streaming", Key="tampered")
