"""What the object store hands back: buckets, objects, listing pages, the attributes an
object keeps beside its bytes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

__all__ = ["BucketInfo", "ObjectAttributes", "ObjectInfo", "ListEntry", "ListPage", "PartInfo"]

DEFAULT_CONTENT_TYPE = "binary/octet-stream"


@dataclasses.dataclass(frozen=True)
class BucketInfo:
    name: str
    created: float  # epoch seconds
    region: str


@dataclasses.dataclass(frozen=True)
class ObjectAttributes:
    """What a PUT (or CreateMultipartUpload) says about the object beside its bytes.

    ``headers``: the stored representation headers (lower-case names: content-encoding,
    content-disposition, content-language, cache-control, expires, server-side encryption);
    ``metadata``: ``x-amz-meta-*`` without the prefix; ``checksum``: algorithm (``CRC32``,
    ``SHA256``...) to its base64 value, as the client sent it.
    """

    content_type: str = DEFAULT_CONTENT_TYPE
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    metadata: Mapping[str, str] = dataclasses.field(default_factory=dict)
    checksum: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "content_type": self.content_type,
            "headers": dict(self.headers),
            "metadata": dict(self.metadata),
            "checksum": dict(self.checksum),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ObjectAttributes:
        def table(name: str) -> dict[str, str]:
            value = data.get(name)
            if not isinstance(value, dict):
                return {}
            return {str(k): str(v) for k, v in value.items()}

        content_type = data.get("content_type")
        return cls(
            content_type=content_type if isinstance(content_type, str) else DEFAULT_CONTENT_TYPE,
            headers=table("headers"),
            metadata=table("metadata"),
            checksum=table("checksum"),
        )


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    bucket: str
    key: str
    size: int
    etag: str  # lower-case hex, without quotes; "<hex>-N" after a multipart upload
    last_modified: float  # epoch seconds
    attributes: ObjectAttributes = dataclasses.field(default_factory=ObjectAttributes)


@dataclasses.dataclass(frozen=True)
class ListEntry:
    """A key as a listing sees it before its metadata is read."""

    key: str
    size: int
    mtime: float


@dataclasses.dataclass(frozen=True)
class ListPage:
    contents: list[ObjectInfo]
    common_prefixes: list[str]
    truncated: bool
    # The last key or common prefix returned: where the next page starts (strictly after).
    last: str | None


@dataclasses.dataclass(frozen=True)
class PartInfo:
    number: int
    size: int
    etag: str
    last_modified: float
    checksum: Mapping[str, str] = dataclasses.field(default_factory=dict)
