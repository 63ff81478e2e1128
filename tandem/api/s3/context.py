"""One S3 request as the operations see it: bucket, key, query, and the shared parts."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from aiohttp import web

from ...objects import FileObjectStore, MultipartUploads, ObjectAttributes
from .errors import AccessDenied
from .streaming import ChunkSignatures

__all__ = ["S3Request", "attributes_from", "STORED_HEADERS"]

P = ParamSpec("P")
T = TypeVar("T")

# Representation headers an object keeps and returns as S3 does.
STORED_HEADERS = (
    "content-encoding",
    "content-disposition",
    "content-language",
    "cache-control",
    "expires",
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-storage-class",
)


@dataclasses.dataclass
class S3Request:
    request: web.Request
    bucket: str
    key: str | None
    request_id: str
    store: FileObjectStore
    uploads: MultipartUploads
    account_id: str
    region: str
    # With --auth, a signed aws-chunked body's chunks must match these.
    chunk_signatures: ChunkSignatures | None = None

    @property
    def resource(self) -> str:
        return f"/{self.bucket}" + (f"/{self.key}" if self.key is not None else "")

    async def run(self, func: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """``func`` on a worker thread: the store blocks on file I/O."""
        return await asyncio.to_thread(func, *args, **kwargs)

    def headers(self, **extra: str) -> dict[str, str]:
        return {"x-amz-request-id": self.request_id, "x-amz-id-2": self.request_id, **extra}

    def check_owner(self) -> None:
        owner = self.request.headers.get("x-amz-expected-bucket-owner")
        if owner is not None and owner != self.account_id:
            raise AccessDenied("Access Denied", self.resource)


def attributes_from(
    request: web.Request, checksum: dict[str, str] | None = None
) -> ObjectAttributes:
    """The attributes a PUT, copy (REPLACE) or CreateMultipartUpload declares."""
    headers = request.headers
    stored = {}
    for name in STORED_HEADERS:
        value = headers.get(name)
        if value is None:
            continue
        if name == "content-encoding":
            # aws-chunked frames the request; it is no part of the object (S3 strips it).
            value = ",".join(
                p.strip() for p in value.split(",") if p.strip() and p.strip() != "aws-chunked"
            )
            if not value:
                continue
        stored[name] = value
    metadata = {
        name[11:].lower(): value
        for name, value in headers.items()
        if name.lower().startswith("x-amz-meta-")
    }
    return ObjectAttributes(
        content_type=headers.get("Content-Type") or "binary/octet-stream",
        headers=stored,
        metadata=metadata,
        checksum=checksum or {},
    )
