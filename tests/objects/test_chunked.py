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


def test_chunk_signatures_match_awss_documented_example() -> None:
    """AWS's SigV4 streaming example: 65 KiB of 'a' in a 64 KiB and a 1 KiB chunk."""
    from tandem.api.auth import InvalidSignature
    from tandem.api.s3.streaming import ChunkSignatures, signing_key

    scope = "20130524/us-east-1/s3/aws4_request"
    signer = ChunkSignatures(
        signing_key("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", scope), "20130524T000000Z", scope,
        "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9")
    signatures = ["ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                  "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                  "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"]
    body = b"".join(
        f"{len(data):x};chunk-signature={sig}\r\n".encode() + data + b"\r\n"
        for data, sig in zip([b"a" * 65536, b"a" * 1024], signatures[:2], strict=True)
    ) + f"0;chunk-signature={signatures[2]}\r\n\r\n".encode()
    out, decoder = _decode(body, [1000, 70000])
    assert out == b"a" * 66560
    signer.verify(decoder.signed_chunks)
    tampered = decoder.signed_chunks[:1] + [(signatures[1], "0" * 64)] + decoder.signed_chunks[2:]
    with pytest.raises(InvalidSignature):
        signer.verify(tampered)
    with pytest.raises(InvalidSignature):
        signer.verify(decoder.signed_chunks[1:])  # a chunk left out breaks the chain
