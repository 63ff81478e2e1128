"""Receiving an object's body: streamed to a temp file off the event loop, unframed from
``aws-chunked`` where it was sent so, and checked against what the client declared
(``x-amz-content-sha256``, ``Content-MD5``, the flexible ``x-amz-checksum-*`` in a header or a
trailer)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import re
from collections.abc import Mapping

from aiohttp import web

from ...objects.files import BodyWriter
from .chunked import AwsChunkedDecoder, ChunkedError
from .errors import BadDigest, ContentSha256Mismatch, IncompleteBody, InvalidDigest, InvalidRequest
from .streaming import ChunkSignatures

__all__ = ["BodyPlan", "plan_body", "receive"]

# Checksums S3 takes: those hashlib/zlib compute are verified, the others kept as sent.
_ALGORITHMS = {
    "crc32": "CRC32",
    "crc32c": "CRC32C",
    "crc64nvme": "CRC64NVME",
    "sha1": "SHA1",
    "sha256": "SHA256",
}
_VERIFIED = {"crc32": "crc32", "sha1": "sha1", "sha256": "sha256"}
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_FLUSH = 1024 * 1024


@dataclasses.dataclass
class BodyPlan:
    """How a request's body is framed and what it must match, from its headers."""

    chunked: bool
    content_sha256: str | None  # a hex digest to match, or None (unsigned / streaming)
    content_md5: bytes | None
    header_checksums: dict[str, str]  # algorithm (lower) -> base64, from headers
    trailer_checksums: list[str]  # algorithms (lower) announced in x-amz-trailer
    decoded_length: int | None

    @property
    def hashes(self) -> list[str]:
        names = {
            _VERIFIED[a]
            for a in [*self.header_checksums, *self.trailer_checksums]
            if a in _VERIFIED
        }
        if self.content_sha256 is not None:
            names.add("sha256")
        return sorted(names)


def plan_body(h: Mapping[str, str]) -> BodyPlan:
    """Read from the request's headers (a case-insensitive mapping)."""
    sha = h.get("x-amz-content-sha256")
    encoding = h.get("Content-Encoding", "")
    chunked = "aws-chunked" in encoding.lower() or (sha or "").startswith("STREAMING-")
    md5 = None
    if "Content-MD5" in h:
        try:
            md5 = base64.b64decode(h["Content-MD5"], validate=True)
        except binascii.Error:
            md5 = b""
        if len(md5) != 16:
            raise InvalidDigest("The Content-MD5 you specified was invalid.")
    header_checksums = {}
    for algorithm in _ALGORITHMS:
        value = h.get(f"x-amz-checksum-{algorithm}")
        if value is not None:
            header_checksums[algorithm] = value.strip()
    trailers = []
    for name in h.get("x-amz-trailer", "").split(","):
        name = name.strip().lower()
        if name.startswith("x-amz-checksum-") and name[15:] in _ALGORITHMS:
            trailers.append(name[15:])
    decoded = h.get("x-amz-decoded-content-length")
    try:
        decoded_length = int(decoded) if decoded is not None else None
    except ValueError:
        raise InvalidRequest("x-amz-decoded-content-length must be an integer.") from None
    return BodyPlan(
        chunked=chunked,
        content_sha256=sha.lower() if sha and _HEX64.match(sha) and not chunked else None,
        content_md5=md5,
        header_checksums=header_checksums,
        trailer_checksums=trailers,
        decoded_length=decoded_length,
    )


async def receive(
    request: web.Request,
    writer: BodyWriter,
    plan: BodyPlan,
    chunk_signatures: ChunkSignatures | None = None,
) -> dict[str, str]:
    """Stream the body into ``writer`` and check it; returns the checksums to keep
    (``{"CRC32": "<b64>"}``). Raises an S3 error when the body does not match, and
    InvalidSignature when a signed chunk's signature does not (``chunk_signatures``)."""
    decoder = AwsChunkedDecoder() if plan.chunked else None
    pending = bytearray()
    try:
        while True:
            data = await request.content.readany()
            if not data:
                break
            if decoder is None:
                pending += data
            else:
                for piece in decoder.feed(data):
                    pending += piece
            if len(pending) >= _FLUSH:
                await asyncio.to_thread(writer.write, bytes(pending))
                pending.clear()
        if decoder is not None:
            decoder.finish()
    except ChunkedError as exc:
        raise IncompleteBody(f"The aws-chunked body is malformed: {exc}.") from None
    except (web.HTTPException, ConnectionError):
        raise
    except Exception as exc:  # noqa: BLE001 - aiohttp's payload errors (short body) vary
        raise IncompleteBody(f"The request body ended early: {exc}") from None
    if pending:
        await asyncio.to_thread(writer.write, bytes(pending))
    if chunk_signatures is not None:
        chunk_signatures.verify(decoder.signed_chunks if decoder is not None else [])
    if plan.chunked and plan.decoded_length is not None and writer.size != plan.decoded_length:
        raise IncompleteBody(
            "You did not provide the number of bytes specified by the "
            "x-amz-decoded-content-length HTTP header."
        )
    if plan.content_sha256 is not None and writer.digest("sha256").hex() != plan.content_sha256:
        raise ContentSha256Mismatch(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    if plan.content_md5 is not None and writer.md5_digest() != plan.content_md5:
        raise BadDigest("The Content-MD5 you specified did not match what we received.")
    declared = dict(plan.header_checksums)
    if decoder is not None:
        for algorithm in plan.trailer_checksums:
            value = decoder.trailers.get(f"x-amz-checksum-{algorithm}")
            if value is None:
                raise InvalidRequest(f"The trailer x-amz-checksum-{algorithm} is missing.")
            declared[algorithm] = value
    kept = {}
    for algorithm, value in declared.items():
        if algorithm in _VERIFIED:
            actual = base64.b64encode(writer.digest(_VERIFIED[algorithm])).decode()
            if actual != value:
                name = _ALGORITHMS[algorithm]
                raise BadDigest(f"The {name} you specified did not match the calculated checksum.")
        kept[_ALGORITHMS[algorithm]] = value
    return kept
