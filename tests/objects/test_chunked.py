"""The aws-chunked decoder: botocore's framing (unsigned chunks, checksum trailer), signed
chunks, any split of the bytes, and malformed bodies."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tandem.api.s3.chunked import AwsChunkedDecoder, ChunkedError

# As captured from botocore over https: 11 bytes, CRC32 trailer.
BOTOCORE = b"b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n"


def _decode(body: bytes, cuts: list[int]) -> tuple[bytes, AwsChunkedDecoder]:
    decoder = AwsChunkedDecoder()
    out = b""
    start = 0
    for cut in [*sorted(cuts), len(body)]:
        out += b"".join(decoder.feed(body[start:cut]))
        start = cut
    decoder.finish()
    return out, decoder


@given(st.lists(st.integers(min_value=0, max_value=len(BOTOCORE)), max_size=8))
def test_botocore_body_in_any_split(cuts: list[int]) -> None:
    out, decoder = _decode(BOTOCORE, cuts)
    assert out == b"hello world"
    assert decoder.trailers == {"x-amz-checksum-crc32": "DUoRhQ=="}


def test_signed_chunks_and_no_trailer() -> None:
    sig = "a" * 64
    body = (
        f"5;chunk-signature={sig}\r\nhello\r\n6;chunk-signature={sig}\r\n world\r\n"
        f"0;chunk-signature={sig}\r\n\r\n"
    ).encode()
    out, decoder = _decode(body, [7, 30])
    assert out == b"hello world"
    assert decoder.signatures == [sig, sig, sig]
    assert decoder.trailers == {}


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # size not hex
        b"3\r\nhello\r\n0\r\n\r\n",  # data longer than its size
        b"5\r\nhello\r\n",  # no final chunk
        b"5\r\nhel",  # cut short
        b"0\r\nnot a trailer\r\n\r\n",
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(ChunkedError):
        _decode(body, [])
