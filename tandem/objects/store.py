"""tandem's own object store: buckets are directories, objects plain files.

``<root>/<bucket>/<key>`` holds an object's bytes, so ``s3://bucket/key`` is a file a user can
open; tandem's own records live in ``<root>/.tandem/`` (a name no bucket can have). Every
method blocks on file I/O: the wire layer calls them from worker threads.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from .errors import (
    BucketAlreadyOwnedByYou,
    BucketNotEmpty,
    InvalidBucketName,
    InvalidObjectName,
    KeyConflict,
    NoSuchBucket,
    NoSuchKey,
    PreconditionFailed,
)
from .files import BodyWriter, MetaFile, read_json, write_json_atomic
from .listing import s3_order, select_page
from .names import check_bucket_name, check_key, key_parts
from .records import BucketInfo, ListPage, ObjectAttributes, ObjectInfo

__all__ = ["FileObjectStore"]

_EMPTY_MD5 = hashlib.md5(b"").hexdigest()


class FileObjectStore:
    def __init__(self, root: Path, region: str = "us-east-1") -> None:
        self.root = Path(root)
        self.region = region
        self.own = self.root / ".tandem"
        self.tmp = self.own / "tmp"
        self.meta = MetaFile(self.own / "meta", self.tmp)
        self._tree = threading.Lock()
        self.tmp.mkdir(parents=True, exist_ok=True)
        (self.own / "buckets").mkdir(exist_ok=True)

    # -- buckets -------------------------------------------------------------------------

    def _bucket_dir(self, name: str) -> Path:
        check_bucket_name(name)
        path = self.root / name
        if not path.is_dir():
            raise NoSuchBucket("The specified bucket does not exist", f"/{name}", BucketName=name)
        return path

    def _bucket_record(self, name: str) -> Path:
        return self.own / "buckets" / f"{name}.json"

    def create_bucket(self, name: str, region: str | None = None) -> BucketInfo:
        check_bucket_name(name)
        path = self.root / name
        try:
            path.mkdir()
        except FileExistsError:
            raise BucketAlreadyOwnedByYou(
                "Your previous request to create the named bucket succeeded and you already "
                "own it.",
                f"/{name}",
                BucketName=name,
            ) from None
        info = BucketInfo(name, time.time(), region or self.region)
        write_json_atomic(
            self._bucket_record(name), {"created": info.created, "region": info.region}, self.tmp
        )
        return info

    def head_bucket(self, name: str) -> BucketInfo:
        path = self._bucket_dir(name)
        record = read_json(self._bucket_record(name)) or {}
        created = record.get("created")
        region = record.get("region")
        return BucketInfo(
            name,
            float(created) if isinstance(created, int | float) else path.stat().st_mtime,
            region if isinstance(region, str) else self.region,
        )

    def list_buckets(self) -> list[BucketInfo]:
        buckets = []
        for entry in sorted(os.scandir(self.root), key=lambda e: e.name):
            if not entry.is_dir(follow_symlinks=False):
                continue
            try:
                buckets.append(self.head_bucket(entry.name))
            except (InvalidBucketName, NoSuchBucket):
                continue  # not a bucket: tandem's own directory, or a name S3 would refuse
        return buckets

    def delete_bucket(self, name: str) -> None:
        """Remove an empty bucket (no objects, no multipart upload in progress)."""
        path = self._bucket_dir(name)
        uploads = self.own / "uploads" / name
        if any(path.iterdir()) or (uploads.is_dir() and any(uploads.iterdir())):
            raise BucketNotEmpty(
                "The bucket you tried to delete is not empty", f"/{name}", BucketName=name
            )
        path.rmdir()
        self._bucket_record(name).unlink(missing_ok=True)
        shutil.rmtree(self.meta.meta_root / name, ignore_errors=True)
        shutil.rmtree(uploads, ignore_errors=True)

    # -- objects -------------------------------------------------------------------------

    def _paths(self, bucket: str, key: str) -> tuple[Path, Path]:
        """``(bucket dir, data path)`` of a checked key in an existing bucket."""
        base = self._bucket_dir(bucket)
        check_key(bucket, key)
        return base, base.joinpath(*key_parts(key))

    def begin_write(self, bucket: str, key: str, hashes: Iterable[str] = ()) -> BodyWriter:
        """A temp file for the body of ``bucket/key``; ``commit`` places it."""
        self._paths(bucket, key)
        return BodyWriter(self.tmp, hashes)

    def commit(
        self,
        bucket: str,
        key: str,
        writer: BodyWriter,
        attributes: ObjectAttributes,
        etag: str | None = None,
    ) -> ObjectInfo:
        """Place the written body as ``bucket/key`` in one rename; ``etag`` defaults to the
        body's MD5."""
        base, data = self._paths(bucket, key)
        writer.close()
        etag = etag or writer.md5
        resource = f"/{bucket}/{key}"
        if key.endswith("/"):
            if writer.size:
                raise InvalidObjectName(
                    "A key ending in '/' is a folder marker here and must be empty.", resource
                )
            with self._tree:
                self._make_dirs(base, data, resource)
            now = time.time()
            self.meta.write(
                bucket, key, size=0, mtime_ns=int(now * 1e9), etag=_EMPTY_MD5, attributes=attributes
            )
            writer.discard()
            return ObjectInfo(bucket, key, 0, _EMPTY_MD5, now, attributes)
        st = writer.path.stat()
        self.meta.write(
            bucket, key, size=st.st_size, mtime_ns=st.st_mtime_ns, etag=etag, attributes=attributes
        )
        try:
            # Folders are made and pruned under one lock: a delete never prunes the folder a
            # write has just made for its rename.
            with self._tree:
                self._make_dirs(base, data.parent, resource)
                os.replace(writer.path, data)
            writer.placed = True
        except IsADirectoryError:
            raise KeyConflict(
                f"Keys under '{key}/' exist: tandem keeps objects as files and cannot hold an "
                "object and a folder of the same name.",
                resource,
            ) from None
        return ObjectInfo(bucket, key, st.st_size, etag, st.st_mtime_ns / 1e9, attributes)

    def _make_dirs(self, base: Path, path: Path, resource: str) -> None:
        """Make ``path`` and its parents (callers hold ``self._tree``)."""
        try:
            path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise KeyConflict(
                "An object's name is a folder of this key: tandem keeps objects as files and "
                "cannot hold an object and a folder of the same name.",
                resource,
            ) from None
        except OSError as exc:
            if exc.errno == errno.ENAMETOOLONG:
                raise InvalidObjectName("A segment of the key is too long.", resource) from None
            raise

    def head_object(self, bucket: str, key: str) -> ObjectInfo:
        _, data = self._paths(bucket, key)
        return self._info(bucket, key, data)

    def _info(self, bucket: str, key: str, data: Path) -> ObjectInfo:
        missing = NoSuchKey("The specified key does not exist.", f"/{bucket}/{key}", Key=key)
        if key.endswith("/"):
            record = read_json(self.meta.path(bucket, key))
            if record is None or not data.is_dir():
                raise missing
            mtime = record.get("mtime_ns")
            when = mtime / 1e9 if isinstance(mtime, int) else data.stat().st_mtime
            return ObjectInfo(bucket, key, 0, _EMPTY_MD5, when, ObjectAttributes.from_json(record))
        try:
            st = data.stat()
        except OSError:
            raise missing from None
        if not data.is_file():
            raise missing
        etag, attributes = self.meta.read(bucket, key, data, st)
        return ObjectInfo(bucket, key, st.st_size, etag, st.st_mtime_ns / 1e9, attributes)

    def open_object(self, bucket: str, key: str) -> tuple[ObjectInfo, BinaryIO]:
        """The object's info and its bytes, open for reading (the caller closes it)."""
        _, data = self._paths(bucket, key)
        info = self._info(bucket, key, data)
        if key.endswith("/"):
            return info, io.BytesIO(b"")
        try:
            return info, open(data, "rb")  # noqa: SIM115 - handed to the caller
        except (FileNotFoundError, IsADirectoryError):
            raise NoSuchKey("The specified key does not exist.", f"/{bucket}/{key}") from None

    def copy_object(
        self,
        source: tuple[str, str],
        bucket: str,
        key: str,
        attributes: ObjectAttributes | None = None,
        if_match: str | None = None,
    ) -> ObjectInfo:
        """Copy ``source`` (bucket, key) to ``bucket/key``, keeping its ETag; its attributes
        too unless ``attributes`` replace them. ``if_match``: the ETag the source must have."""
        info, f = self.open_object(*source)
        with f:
            if if_match is not None and if_match.strip('"') not in (info.etag, "*"):
                raise PreconditionFailed(
                    "At least one of the pre-conditions you specified did not hold",
                    f"/{source[0]}/{source[1]}",
                    Condition="x-amz-copy-source-If-Match",
                )
            with self.begin_write(bucket, key) as writer:
                writer.copy_from(f)
                return self.commit(
                    bucket, key, writer, attributes or info.attributes, etag=info.etag
                )

    def delete_object(self, bucket: str, key: str) -> None:
        """Remove ``bucket/key`` (no error when it is absent, as S3)."""
        base, data = self._paths(bucket, key)
        if key.endswith("/"):
            self.meta.remove(bucket, key)
            with self._tree:
                self._prune(bucket, base, data)
            return
        try:
            if data.is_file():
                data.unlink()
        except FileNotFoundError:
            pass
        self.meta.remove(bucket, key)
        with self._tree:
            self._prune(bucket, base, data.parent)

    def _prune(self, bucket: str, base: Path, path: Path) -> None:
        """Remove the empty folders a deleted key leaves, up to the bucket (folder markers
        stay)."""
        while path != base and base in path.parents:
            relative = path.relative_to(base).as_posix() + "/"
            if self.meta.exists(bucket, relative):
                return
            try:
                path.rmdir()
            except OSError:
                return
            path = path.parent

    # -- listing -------------------------------------------------------------------------

    def _walk(self, bucket: str, base: Path, start: Path) -> Iterator[tuple[str, int, float]]:
        stack = [start]
        while stack:
            folder = stack.pop()
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                relative = Path(entry.path).relative_to(base).as_posix()
                try:
                    relative.encode("utf-8")
                except UnicodeEncodeError:
                    continue  # a file name that is no UTF-8 key
                if entry.is_dir(follow_symlinks=False):
                    if self.meta.exists(bucket, relative + "/"):
                        yield relative + "/", 0, entry.stat().st_mtime
                    stack.append(Path(entry.path))
                elif entry.is_file():
                    st = entry.stat()
                    yield relative, st.st_size, st.st_mtime

    def list_objects(
        self,
        bucket: str,
        *,
        prefix: str = "",
        delimiter: str = "",
        after: str | None = None,
        max_keys: int = 1000,
    ) -> ListPage:
        base = self._bucket_dir(bucket)
        # Walk only the deepest folder that holds every key with this prefix.
        folder = prefix.rpartition("/")[0]
        start = base
        if folder and all(part not in ("", ".", "..") for part in folder.split("/")):
            start = base.joinpath(*folder.split("/"))
        keys = sorted((k for k, _, _ in self._walk(bucket, base, start)), key=s3_order)
        names, prefixes, truncated = select_page(
            keys, prefix=prefix, delimiter=delimiter, after=after, max_keys=max_keys
        )
        contents = []
        for key in names:
            try:
                contents.append(self._info(bucket, key, base.joinpath(*key_parts(key))))
            except NoSuchKey:
                continue  # deleted since the walk
        items = [*names, *prefixes]
        last = max(items, key=s3_order) if items else None
        return ListPage(contents, prefixes, truncated, last)
