"""tandem's S3 through boto3 and raw HTTP: what clients send (keys with any character,
listings in both versions, ranges, conditionals, checksums, aws-chunked bodies) and S3's
error for every malformed request, never a 500."""

from __future__ import annotations

import base64
import hashlib
import http.client
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.server_thread import ServerThread

pytestmark = pytest.mark.slow

KEYS = ["plain.txt", "with space.txt", "plus+sign", "percent%41", "q?mark#hash", "ümlaut/é.bin",
        "deep/a/b/c.txt", "tilde~x", "dir/"]


def _code(error: ClientError) -> tuple[str, int]:
    return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]


def _raw(server: ServerThread, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """One request signed for s3 (scope only: auth is off) over a raw connection."""
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    all_headers = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=" + "0" * 64,
        **(headers or {}),
    }
    conn.request(method, path, body=body, headers=all_headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


def test_buckets_named_like_tandems_own_paths(s3: Any, server: ServerThread) -> None:
    for name in ("endpoints", "dashboard", "metrics", "ping"):
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="invocations", Body=name.encode())
        assert s3.get_object(Bucket=name, Key="invocations")["Body"].read() == name.encode()
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert {"endpoints", "dashboard", "metrics", "ping"} <= set(names)
    # Unsigned requests still reach the dashboard and the health check.
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    conn.request("GET", "/ping")
    assert conn.getresponse().status == 200
    conn.close()


def test_keys_round_trip_through_both_listing_versions(s3: Any, data_dir: Path) -> None:
    s3.create_bucket(Bucket="keys")
    for key in KEYS:
        s3.put_object(Bucket="keys", Key=key, Body=b"" if key.endswith("/") else key.encode())
    for key in KEYS:
        assert s3.get_object(Bucket="keys", Key=key)["Body"].read() == (
            b"" if key.endswith("/") else key.encode())
    expected = sorted(KEYS, key=lambda k: k.encode())
    v2 = [o["Key"] for o in s3.list_objects_v2(Bucket="keys")["Contents"]]
    v1 = [o.key for o in boto3.resource(
        "s3", endpoint_url=s3.meta.endpoint_url, region_name="us-east-1",
        aws_access_key_id="t", aws_secret_access_key="t").Bucket("keys").objects.all()]
    assert v2 == v1 == expected
    assert (data_dir / "s3" / "keys" / "ümlaut" / "é.bin").read_bytes() == "ümlaut/é.bin".encode()
    top = s3.list_objects_v2(Bucket="keys", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["deep/", "dir/", "ümlaut/"]
    assert top["KeyCount"] == len(top["Contents"]) + 3


def test_paginators_walk_every_key_once(s3: Any) -> None:
    s3.create_bucket(Bucket="pages")
    keys = [f"p/{i:03d}/{j}" for i in range(12) for j in ("a", "b")]
    for key in keys:
        s3.put_object(Bucket="pages", Key=key, Body=b"x")
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket="pages", PaginationConfig={"PageSize": 5}))
    assert len(pages) == 5
    assert [o["Key"] for p in pages for o in p.get("Contents", [])] == keys
    v1 = list(s3.get_paginator("list_objects").paginate(
        Bucket="pages", Prefix="p/", Delimiter="/", PaginationConfig={"PageSize": 5}))
    prefixes = [c["Prefix"] for p in v1 for c in p.get("CommonPrefixes", [])]
    assert prefixes == [f"p/{i:03d}/" for i in range(12)]
    after = s3.list_objects_v2(Bucket="pages", StartAfter="p/010/a")
    assert [o["Key"] for o in after["Contents"]] == ["p/010/b", "p/011/a", "p/011/b"]


def test_ranges_conditionals_and_headers(s3: Any) -> None:
    s3.create_bucket(Bucket="ranges")
    body = bytes(range(256)) * 4
    put = s3.put_object(Bucket="ranges", Key="k", Body=body, ContentType="application/x-npy",
                        Metadata={"Owner": "me"}, ServerSideEncryption="aws:kms")
    assert put["ServerSideEncryption"] == "aws:kms"
    etag = put["ETag"]
    assert etag == f'"{hashlib.md5(body).hexdigest()}"'
    cases = {"bytes=0-9": (0, 9), "bytes=1000-": (1000, 1023), "bytes=-5": (1019, 1023),
             "bytes=1020-5000": (1020, 1023)}
    for spec, (first, last) in cases.items():
        got = s3.get_object(Bucket="ranges", Key="k", Range=spec)
        assert got["Body"].read() == body[first:last + 1]
        assert got["ContentRange"] == f"bytes {first}-{last}/1024"
        assert "ChecksumCRC32" not in got  # never a whole-object checksum on a part
    with pytest.raises(ClientError) as bad:
        s3.get_object(Bucket="ranges", Key="k", Range="bytes=1024-")
    assert _code(bad.value) == ("InvalidRange", 416)
    assert bad.value.response["Error"]["ActualObjectSize"] == "1024"
    head = s3.head_object(Bucket="ranges", Key="k")
    assert (head["ContentLength"], head["ContentType"], head["Metadata"]) == (
        1024, "application/x-npy", {"owner": "me"})
    assert s3.get_object(Bucket="ranges", Key="k", IfMatch=etag)["Body"].read() == body
    with pytest.raises(ClientError) as bad:
        s3.get_object(Bucket="ranges", Key="k", IfMatch='"0000"')
    assert _code(bad.value) == ("PreconditionFailed", 412)
    with pytest.raises(ClientError) as bad:
        s3.get_object(Bucket="ranges", Key="k", IfNoneMatch=etag)
    assert _code(bad.value)[1] == 304
    full = s3.get_object(Bucket="ranges", Key="k", ChecksumMode="ENABLED")
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    assert full["ChecksumCRC32"] == crc
    assert full["Body"].read() == body  # botocore validated it


def test_copy_delete_and_bucket_lifecycle(s3: Any) -> None:
    s3.create_bucket(Bucket="copies")
    s3.create_bucket(Bucket="copies")  # us-east-1: creating one's own bucket again is 200
    s3.put_object(Bucket="copies", Key="src key", Body=b"abc", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket="copies", Key="dst", CopySource="copies/src key")
    assert copied["CopyObjectResult"]["ETag"] == f'"{hashlib.md5(b"abc").hexdigest()}"'
    assert s3.head_object(Bucket="copies", Key="dst")["Metadata"] == {"a": "1"}
    s3.copy_object(Bucket="copies", Key="dst", CopySource={"Bucket": "copies", "Key": "src key"},
                   Metadata={"b": "2"}, MetadataDirective="REPLACE")
    assert s3.head_object(Bucket="copies", Key="dst")["Metadata"] == {"b": "2"}
    with pytest.raises(ClientError) as bad:
        s3.copy_object(Bucket="copies", Key="dst", CopySource="copies/dst")
    assert _code(bad.value) == ("InvalidRequest", 400)
    with pytest.raises(ClientError) as bad:
        s3.delete_bucket(Bucket="copies")
    assert _code(bad.value) == ("BucketNotEmpty", 409)
    result = s3.delete_objects(Bucket="copies", Delete={"Objects": [
        {"Key": "src key"}, {"Key": "dst"}, {"Key": "never-there"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["dst", "never-there", "src key"]
    s3.delete_object(Bucket="copies", Key="never-there")  # 204 for an absent key
    assert s3.get_bucket_location(Bucket="copies")["LocationConstraint"] is None
    s3.delete_bucket(Bucket="copies")
    with pytest.raises(ClientError) as bad:
        s3.head_bucket(Bucket="copies")
    assert _code(bad.value) == ("404", 404)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda s3: s3.get_object(Bucket="no-such-bucket", Key="k"), ("NoSuchBucket", 404)),
        (lambda s3: s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"1"),
         ("NoSuchBucket", 404)),
        (lambda s3: s3.list_objects_v2(Bucket="no-such-bucket"), ("NoSuchBucket", 404)),
        (lambda s3: s3.get_object(Bucket="errors", Key="missing"), ("NoSuchKey", 404)),
        (lambda s3: s3.head_object(Bucket="errors", Key="missing"), ("404", 404)),
        (lambda s3: s3.create_bucket(Bucket="Upper_Case"), ("InvalidBucketName", 400)),
        (lambda s3: s3.create_bucket(Bucket="ab"), ("InvalidBucketName", 400)),
        (lambda s3: s3.put_object(Bucket="errors", Key="../../outside", Body=b"1"),
         ("InvalidObjectName", 400)),
        (lambda s3: s3.put_object(Bucket="errors", Key="a/../../../outside", Body=b"1"),
         ("InvalidObjectName", 400)),
        (lambda s3: s3.get_object(Bucket="errors", Key="../errors2/k"), ("InvalidObjectName", 400)),
        (lambda s3: s3.put_object(Bucket="errors", Key="k" * 1025, Body=b"1"),
         ("KeyTooLongError", 400)),
        (lambda s3: s3.upload_part(Bucket="errors", Key="k", UploadId="nope", PartNumber=1,
                                   Body=b"1"), ("NoSuchUpload", 404)),
        (lambda s3: s3.complete_multipart_upload(
            Bucket="errors", Key="k", UploadId="nope",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": "x"}]}), ("NoSuchUpload", 404)),
        (lambda s3: s3.head_bucket(Bucket="errors", ExpectedBucketOwner="123456789012"),
         ("403", 403)),
        (lambda s3: s3.get_bucket_tagging(Bucket="errors"), ("NotImplemented", 501)),
        (lambda s3: s3.list_objects_v2(Bucket="errors", ContinuationToken="!!!"),
         ("InvalidArgument", 400)),
    ],
)
def test_malformed_requests_get_s3_errors(s3: Any, data_dir: Path, call: Any,
                                          expected: tuple[str, int]) -> None:
    try:
        s3.create_bucket(Bucket="errors")
    except ClientError:
        pass
    before = sorted(p for p in data_dir.rglob("*") if ".tandem" not in p.parts)
    with pytest.raises(ClientError) as bad:
        call(s3)
    assert _code(bad.value) == expected
    assert sorted(p for p in data_dir.rglob("*") if ".tandem" not in p.parts) == before
    assert not (data_dir / "outside").exists() and not (data_dir / "s3" / "outside").exists()


def test_raw_malformed_bodies(server: ServerThread, s3: Any) -> None:
    s3.create_bucket(Bucket="raw")
    status, headers, body = _raw(server, "POST", "/raw?delete", b"<Delete><Object>")
    assert (status, b"<Code>MalformedXML</Code>" in body) == (400, True)
    assert headers["content-type"] == "application/xml"
    status, _, body = _raw(server, "PUT", "/raw/k", b"abc", {"Content-MD5": "not base64!"})
    assert (status, b"<Code>InvalidDigest</Code>" in body) == (400, True)
    wrong_md5 = base64.b64encode(hashlib.md5(b"xyz").digest()).decode()
    status, _, body = _raw(server, "PUT", "/raw/k", b"abc", {"Content-MD5": wrong_md5})
    assert (status, b"<Code>BadDigest</Code>" in body) == (400, True)
    status, _, body = _raw(server, "PUT", "/raw/k", b"abc",
                           {"x-amz-content-sha256": hashlib.sha256(b"xyz").hexdigest()})
    assert (status, b"<Code>XAmzContentSHA256Mismatch</Code>" in body) == (400, True)
    status, _, body = _raw(server, "PUT", "/raw/k", b"abc", {"x-amz-checksum-crc32": "AAAAAA=="})
    assert (status, b"<Code>BadDigest</Code>" in body) == (400, True)
    status, _, body = _raw(server, "PATCH", "/raw/k", b"abc")
    assert (status, b"<Code>NotImplemented</Code>" in body) == (501, True)
    status, _, body = _raw(server, "GET", "/raw/%2E%2E/%2E%2E/etc/passwd")
    assert (status, b"<Code>InvalidObjectName</Code>" in body) == (400, True)
    with pytest.raises(ClientError):
        s3.head_object(Bucket="raw", Key="k")  # nothing was stored by any of them


def _aws_chunked(data: bytes, chunk: int, trailer: str) -> bytes:
    out = b""
    for i in range(0, len(data), chunk):
        piece = data[i:i + chunk]
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return out + b"0\r\n" + trailer.encode() + b"\r\n\r\n"


def test_aws_chunked_bodies_with_checksum_trailers(server: ServerThread, s3: Any,
                                                   data_dir: Path) -> None:
    s3.create_bucket(Bucket="chunked")
    data = bytes(range(256)) * 5000
    crc = base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
    headers = {
        "Content-Encoding": "aws-chunked",
        "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "x-amz-trailer": "x-amz-checksum-crc32",
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-sdk-checksum-algorithm": "CRC32",
    }
    status, got, _ = _raw(server, "PUT", "/chunked/obj", _aws_chunked(
        data, 65536, f"x-amz-checksum-crc32:{crc}"), headers)
    assert status == 200 and got["x-amz-checksum-crc32"] == crc
    assert (data_dir / "s3" / "chunked" / "obj").read_bytes() == data
    head = s3.head_object(Bucket="chunked", Key="obj")
    assert "ContentEncoding" not in head  # aws-chunked framed the request, not the object
    status, _, body = _raw(server, "PUT", "/chunked/bad", _aws_chunked(
        data, 65536, "x-amz-checksum-crc32:AAAAAA=="), headers)
    assert (status, b"<Code>BadDigest</Code>" in body) == (400, True)
    status, _, body = _raw(server, "PUT", "/chunked/short", _aws_chunked(
        data[:-1], 65536, f"x-amz-checksum-crc32:{crc}"), headers)
    assert (status, b"<Code>IncompleteBody</Code>" in body) == (400, True)
    assert sorted(p.name for p in (data_dir / "s3" / "chunked").iterdir()) == ["obj"]
