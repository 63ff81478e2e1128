"""Object bytes as plain files: the temp-file writer every PUT, part and copy goes through,
and the metadata kept beside each object.

A write streams into a temp file under the store's own directory (same filesystem), hashing
as it goes, and is renamed into place in one ``os.replace``: a reader sees the old object or
the new one, never a part. Metadata lives in a JSON file per key named by the key's hash, so
no key can collide with another's metadata; it records the data file's size and mtime, and a
data file that no longer matches (edited or dropped in by hand) gets its ETag recomputed.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import os
import tempfile
import zlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from .records import DEFAULT_CONTENT_TYPE, ObjectAttributes

__all__ = ["BodyWriter", "MetaFile", "file_md5", "HASHES"]

# Digests a writer can keep besides MD5 (the ETag): the flexible checksums S3 clients send.
HASHES = ("sha256", "sha1", "crc32")
_CHUNK = 1024 * 1024


class _Hasher(Protocol):
    def update(self, data: bytes, /) -> None: ...

    def digest(self) -> bytes: ...


class _Crc32:
    def __init__(self) -> None:
        self.value = 0

    def update(self, data: bytes, /) -> None:
        self.value = zlib.crc32(data, self.value)

    def digest(self) -> bytes:
        return self.value.to_bytes(4, "big")


def _hasher(name: str) -> _Hasher:
    if name == "crc32":
        return _Crc32()
    return hashlib.new(name)


class BodyWriter:
    """A temp file being filled with one body (blocking: call from a worker thread)."""

    def __init__(self, tmp_dir: Path, hashes: Iterable[str] = ()) -> None:
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="put-")
        self.path = Path(name)
        self._file: BinaryIO = os.fdopen(fd, "wb")
        self.size = 0
        self.placed = False  # renamed into place: nothing left to clean up
        self._md5 = hashlib.md5()
        self._extra = {name: _hasher(name) for name in hashes}

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._md5.update(data)
        for hasher in self._extra.values():
            hasher.update(data)
        self.size += len(data)

    def copy_from(self, source: BinaryIO, length: int | None = None) -> None:
        """Append ``length`` bytes of ``source`` (all of it when None)."""
        left = length
        while left is None or left > 0:
            chunk = source.read(_CHUNK if left is None else min(_CHUNK, left))
            if not chunk:
                break
            self.write(chunk)
            if left is not None:
                left -= len(chunk)

    @property
    def md5(self) -> str:
        return self._md5.hexdigest()

    def md5_digest(self) -> bytes:
        return self._md5.digest()

    def digest(self, name: str) -> bytes:
        return self._extra[name].digest()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def discard(self) -> None:
        self.close()
        if not self.placed:
            self.path.unlink(missing_ok=True)
            self.placed = True

    def __enter__(self) -> BodyWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        # On success the file was renamed away; anything left is a failed write.
        self.discard()


def file_md5(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            md5.update(chunk)
    return md5.hexdigest()


def write_json_atomic(path: Path, data: dict[str, Any], tmp_dir: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="meta-")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f)
    os.replace(name, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class MetaFile:
    """The metadata of one key: ``<meta dir>/<bucket>/<hh>/<sha256(key)>.json``."""

    def __init__(self, meta_root: Path, tmp_dir: Path) -> None:
        self.meta_root = meta_root
        self.tmp_dir = tmp_dir

    def path(self, bucket: str, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return self.meta_root / bucket / digest[:2] / f"{digest}.json"

    def write(
        self,
        bucket: str,
        key: str,
        *,
        size: int,
        mtime_ns: int,
        etag: str,
        attributes: ObjectAttributes,
    ) -> None:
        record = {
            "key": key,
            "size": size,
            "mtime_ns": mtime_ns,
            "etag": etag,
            **attributes.to_json(),
        }
        write_json_atomic(self.path(bucket, key), record, self.tmp_dir)

    def read(
        self, bucket: str, key: str, data: Path, st: os.stat_result
    ) -> tuple[str, ObjectAttributes]:
        """``(etag, attributes)`` of the object whose bytes are ``data`` (stat ``st``)."""
        record = read_json(self.path(bucket, key))
        if (
            record is not None
            and record.get("key") == key
            and record.get("size") == st.st_size
            and record.get("mtime_ns") == st.st_mtime_ns
            and isinstance(record.get("etag"), str)
        ):
            return str(record["etag"]), ObjectAttributes.from_json(record)
        # A file placed or changed by hand: its ETag from its bytes, its type from its name.
        guessed = mimetypes.guess_type(key)[0] or DEFAULT_CONTENT_TYPE
        attributes = ObjectAttributes(content_type=guessed)
        etag = file_md5(data) if data.is_file() else hashlib.md5(b"").hexdigest()
        self.write(
            bucket, key, size=st.st_size, mtime_ns=st.st_mtime_ns, etag=etag, attributes=attributes
        )
        return etag, attributes

    def exists(self, bucket: str, key: str) -> bool:
        return self.path(bucket, key).is_file()

    def remove(self, bucket: str, key: str) -> None:
        self.path(bucket, key).unlink(missing_ok=True)
