"""Any method, path and query signed for s3 gets an S3 answer below 500: generated requests
against a live server, with a bucket and objects present."""

from __future__ import annotations

import http.client
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.s3.conftest import s3_client
from tests.server_thread import ServerThread

pytestmark = pytest.mark.slow

AUTH = ("AWS4-HMAC-SHA256 Credential=test/20261207/us-east-1/s3/aws4_request, "
        "SignedHeaders=host, Signature=" + "0" * 64)
QUERY_KEYS = ["list-type", "prefix", "delimiter", "max-keys", "continuation-token", "marker",
              "start-after", "encoding-type", "uploads", "uploadId", "partNumber", "delete",
              "location", "acl", "versionId", "fetch-owner"]
HEADERS = ["Range", "If-Match", "If-None-Match", "If-Modified-Since", "x-amz-copy-source",
           "x-amz-copy-source-range", "x-amz-metadata-directive", "Content-MD5",
           "x-amz-checksum-crc32", "x-amz-content-sha256", "x-amz-decoded-content-length",
           "Content-Encoding", "x-amz-expected-bucket-owner"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    thread = ServerThread(tmp_path_factory.mktemp("tandem-s3-sweep")).start()
    s3: Any = s3_client(thread.url)
    s3.create_bucket(Bucket="sweep")
    s3.put_object(Bucket="sweep", Key="k", Body=b"0123456789")
    s3.put_object(Bucket="sweep", Key="d/e", Body=b"x")
    url = urlsplit(thread.url)
    assert url.hostname is not None and url.port is not None
    yield url.hostname, url.port
    thread.stop()


_segment = st.one_of(st.sampled_from(["sweep", "k", "d", "e", "..", ".", "", "%2E%2E", "Bad_B",
                                      "%00", "a%2Fb", "%ZZ", "x" * 300]),
                     st.text(min_size=1, max_size=8).map(lambda t: quote(t, safe="")))


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    method=st.sampled_from(["GET", "HEAD", "PUT", "POST", "DELETE", "PATCH"]),
    segments=st.lists(_segment, min_size=0, max_size=4),
    query=st.dictionaries(st.sampled_from(QUERY_KEYS),
                          st.one_of(st.just(""), st.text(max_size=6).map(
                              lambda t: quote(t, safe=""))), max_size=3),
    headers=st.dictionaries(st.sampled_from(HEADERS), st.text(
        st.characters(min_codepoint=32, max_codepoint=126), max_size=20), max_size=3),
    body=st.binary(max_size=64),
)
def test_no_s3_request_gets_a_5xx(live: tuple[str, int], method: str, segments: list[str],
                                  query: dict[str, str], headers: dict[str, str],
                                  body: bytes) -> None:
    path = "/" + "/".join(segments)
    if query:
        path += "?" + "&".join(f"{k}={v}" if v else k for k, v in query.items())
    conn = http.client.HTTPConnection(*live, timeout=30)
    try:
        conn.request(method, path, body=body, headers={"Authorization": AUTH, **headers})
        response = conn.getresponse()
        data = response.read()
    finally:
        conn.close()
    assert response.status < 500 or response.status == 501, (method, path, headers, data[:300])
    if method != "HEAD" and response.status >= 400:
        assert b"<Error><Code>" in data, (method, path, data[:300])
