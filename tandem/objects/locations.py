"""``s3://`` locations as jobs and models use them, behind one small seam.

``ObjectLocations`` is what serving and jobs need of an object store: a local path holding
what an ``s3://bucket/key`` location names (staged before a job or container starts), and a
way to put a result file at a location. Two implementations: ``OwnLocations`` (tandem's own
S3: objects already are files, so staging is the path itself, no copy) and
``tandem.objects.remote.RemoteLocations`` (any S3-compatible endpoint, through boto3).
Both block on I/O: callers run them on worker threads.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from ..errors import ValidationException
from .errors import ObjectStoreError
from .names import check_bucket_name, check_key, key_parts
from .records import ObjectAttributes
from .store import FileObjectStore

__all__ = [
    "ObjectLocations",
    "OwnLocations",
    "is_s3_uri",
    "split_s3_uri",
    "local_mirror",
    "staged_uri",
]


class ObjectLocations(Protocol):
    def stage(self, uri: str, scratch: Path) -> Path:
        """A local path holding what ``uri`` names, laid out by key (an object is a file; a
        prefix ``s3://b/p`` is the path ``.../b/p``, whose folder or name-prefixed siblings
        hold every object under it). ``scratch`` may receive downloaded files."""

    def publish(self, source: Path, uri: str) -> None:
        """Store the local file ``source`` as the object ``uri``."""


def is_s3_uri(location: object) -> bool:
    return isinstance(location, str) and location.strip().lower().startswith("s3://")


def split_s3_uri(uri: str, *, field: str = "S3Uri") -> tuple[str, str]:
    """``(bucket, key)`` of ``s3://bucket/key`` (the key may be empty: the whole bucket)."""
    # Not urlsplit: keys are not URL-encoded in S3 URIs and may hold '?' or '#'.
    bucket, _, key = uri.strip()[5:].partition("/")
    try:
        check_bucket_name(bucket)
        if key:
            check_key(bucket, key)
    except ObjectStoreError as error:
        raise ValidationException(f"{field}: {uri!r}: {error.message}") from None
    return bucket, key


def local_mirror(root: Path, bucket: str, key: str) -> Path:
    """Where ``bucket/key`` lies in a tree laid out as ``<root>/<bucket>/<key>``."""
    return root.joinpath(bucket, *key_parts(key)) if key.strip("/") else root / bucket


def _has_prefixed(path: Path) -> bool:
    """Whether some name in ``path``'s folder starts with its name (an S3 prefix)."""
    try:
        return any(entry.name.startswith(path.name) for entry in os.scandir(path.parent))
    except OSError:
        return False


def staged_uri(uri: str, staged: Path, path: Path) -> str:
    """The s3:// URI of ``path``, a file found under ``staged`` (what ``stage(uri)`` gave)."""
    bucket, key = split_s3_uri(uri)
    depth = len(key_parts(key)) if key.strip("/") else 0
    bucket_root = staged.parents[depth - 1] if depth else staged
    try:
        return f"s3://{bucket}/{path.relative_to(bucket_root).as_posix()}"
    except ValueError:
        return str(path)


class OwnLocations:
    """tandem's own S3: ``s3://bucket/key`` is ``<data-dir>/s3/bucket/key``."""

    def __init__(self, store: FileObjectStore) -> None:
        self.store = store

    def stage(self, uri: str, scratch: Path) -> Path:
        bucket, key = split_s3_uri(uri)
        if not (self.store.root / bucket).is_dir():
            raise ValidationException(f"{uri}: the bucket {bucket!r} does not exist")
        path = local_mirror(self.store.root, bucket, key)
        if not (path.exists() or _has_prefixed(path)):
            raise ValidationException(f"{uri}: no objects found")
        return path

    def publish(self, source: Path, uri: str) -> None:
        bucket, key = split_s3_uri(uri)
        with open(source, "rb") as f, self.store.begin_write(bucket, key) as writer:
            writer.copy_from(f)
            self.store.commit(bucket, key, writer, ObjectAttributes())
