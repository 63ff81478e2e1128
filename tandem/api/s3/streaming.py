"""Signed aws-chunked uploads (``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``): each chunk carries a
signature chained from the request's seed signature, as AWS's "Signature Calculations for the
Authorization Header: Transferring Payload in Multiple Chunks" defines. The Java, Go and JS
SDKs send them; botocore does not. Pure: no I/O."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence

from ..auth import InvalidSignature

__all__ = ["ChunkSignatures", "chunk_signatures_for", "signing_key"]

_EMPTY = hashlib.sha256(b"").hexdigest()
_AUTH = re.compile(
    r"Credential=(?P<key>[^/,\s]+)/(?P<scope>[^,\s]+),.*Signature=(?P<signature>[0-9a-fA-F]+)"
)


def signing_key(secret: str, scope: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in scope.split("/"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


@dataclasses.dataclass(frozen=True)
class ChunkSignatures:
    """What every chunk's signature is chained from."""

    key: bytes
    amz_date: str
    scope: str
    seed: str

    def verify(self, chunks: Sequence[tuple[str, str]]) -> None:
        """``chunks``: (signature, SHA-256 hex of the chunk's data), the final empty chunk
        last; raises InvalidSignature at the first that does not match."""
        previous = self.seed
        if not chunks:
            raise InvalidSignature("The aws-chunked body carries no chunk signatures.")
        for given, digest in chunks:
            to_sign = "\n".join(
                ["AWS4-HMAC-SHA256-PAYLOAD", self.amz_date, self.scope, previous, _EMPTY, digest]
            )
            expected = hmac.new(self.key, to_sign.encode(), hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, given.lower()):
                raise InvalidSignature(
                    "The request signature we calculated does not match the signature you "
                    "provided for a chunk of the body."
                )
            previous = expected


def chunk_signatures_for(
    headers: Mapping[str, str], keys: Mapping[str, str]
) -> ChunkSignatures | None:
    """For a (verified) signed streaming request, what its chunks must match; else None."""
    if not headers.get("x-amz-content-sha256", "").startswith("STREAMING-AWS4-HMAC-SHA256"):
        return None
    match = _AUTH.search(headers.get("authorization", ""))
    if match is None or match["key"] not in keys:
        return None
    scope = match["scope"]
    return ChunkSignatures(
        signing_key(keys[match["key"]], scope),
        headers.get("x-amz-date", ""),
        scope,
        match["signature"].lower(),
    )
