"""tandem's own object store (what its S3 API serves): buckets as directories, objects as
plain files under ``<data-dir>/s3``, written atomically, with multipart uploads."""

from __future__ import annotations

from .errors import ObjectStoreError
from .multipart import MultipartUploads
from .records import BucketInfo, ListPage, ObjectAttributes, ObjectInfo, PartInfo
from .store import FileObjectStore

__all__ = [
    "BucketInfo",
    "FileObjectStore",
    "ListPage",
    "MultipartUploads",
    "ObjectAttributes",
    "ObjectInfo",
    "ObjectStoreError",
    "PartInfo",
]
