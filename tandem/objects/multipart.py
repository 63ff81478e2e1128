"""Multipart uploads: parts kept as files under ``.tandem/uploads/<bucket>/<id>/`` until
CompleteMultipartUpload joins them into the object in one rename."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import EntityTooSmall, InvalidArgument, InvalidPart, InvalidPartOrder, NoSuchUpload
from .files import BodyWriter, read_json, write_json_atomic
from .records import ObjectAttributes, ObjectInfo, PartInfo
from .store import FileObjectStore

__all__ = ["MultipartUploads", "MIN_PART_SIZE", "MAX_PARTS"]

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10_000


class MultipartUploads:
    def __init__(self, store: FileObjectStore) -> None:
        self.store = store
        self.root = store.own / "uploads"

    def _dir(self, bucket: str, key: str, upload_id: str) -> Path:
        missing = NoSuchUpload(
            "The specified upload does not exist. The upload ID may be invalid, or the upload "
            "may have been aborted or completed.",
            f"/{bucket}/{key}",
            UploadId=upload_id,
        )
        if not upload_id.isalnum():
            raise missing
        path = self.root / bucket / upload_id
        record = read_json(path / "upload.json")
        if record is None or record.get("key") != key:
            raise missing
        return path

    def in_progress(self, bucket: str) -> bool:
        folder = self.root / bucket
        return folder.is_dir() and any(folder.iterdir())

    def create(self, bucket: str, key: str, attributes: ObjectAttributes) -> str:
        self.store.begin_write(bucket, key).discard()  # the bucket exists and the key is valid
        upload_id = secrets.token_hex(24)
        path = self.root / bucket / upload_id
        path.mkdir(parents=True)
        write_json_atomic(
            path / "upload.json",
            {"key": key, "initiated": time.time(), **attributes.to_json()},
            self.store.tmp,
        )
        return upload_id

    def begin_part(
        self, bucket: str, key: str, upload_id: str, number: int, hashes: Iterable[str] = ()
    ) -> BodyWriter:
        self.store.head_bucket(bucket)
        self._dir(bucket, key, upload_id)
        if not 1 <= number <= MAX_PARTS:
            raise InvalidArgument(
                "Part number must be an integer between 1 and 10000, inclusive",
                f"/{bucket}/{key}",
                ArgumentName="partNumber",
                ArgumentValue=str(number),
            )
        return BodyWriter(self.store.tmp, hashes)

    def commit_part(
        self,
        bucket: str,
        key: str,
        upload_id: str,
        number: int,
        writer: BodyWriter,
        checksum: dict[str, str],
    ) -> PartInfo:
        path = self._dir(bucket, key, upload_id)
        writer.close()
        part = PartInfo(number, writer.size, writer.md5, time.time(), checksum)
        write_json_atomic(
            path / f"{number:05d}.json",
            {"size": part.size, "etag": part.etag, "checksum": checksum, "md5": writer.md5},
            self.store.tmp,
        )
        os.replace(writer.path, path / f"{number:05d}.part")
        return part

    def complete(
        self, bucket: str, key: str, upload_id: str, parts: Sequence[tuple[int, str]]
    ) -> ObjectInfo:
        """Join the listed parts (number, ETag), in order, into ``bucket/key``."""
        path = self._dir(bucket, key, upload_id)
        resource = f"/{bucket}/{key}"
        if not parts:
            raise InvalidPart("You must specify at least one part.", resource)
        numbers = [n for n, _ in parts]
        if any(b <= a for a, b in zip(numbers, numbers[1:], strict=False)):
            raise InvalidPartOrder(
                "The list of parts was not in ascending order. Parts must be ordered by part "
                "number.",
                resource,
                UploadId=upload_id,
            )
        found = []
        for number, etag in parts:
            record = read_json(path / f"{number:05d}.json")
            if record is None or record.get("etag") != etag.strip('"').lower():
                raise InvalidPart(
                    "One or more of the specified parts could not be found. The part may not "
                    "have been uploaded, or the specified entity tag may not match the part's "
                    "entity tag.",
                    resource,
                    PartNumber=str(number),
                    ETag=etag,
                )
            found.append((number, record))
        for number, record in found[:-1]:
            if int(record.get("size", 0)) < MIN_PART_SIZE:
                raise EntityTooSmall(
                    "Your proposed upload is smaller than the minimum allowed size",
                    resource,
                    PartNumber=str(number),
                    MinSizeAllowed=str(MIN_PART_SIZE),
                )
        record = read_json(path / "upload.json") or {}
        attributes = ObjectAttributes.from_json(record)
        # The object carries no full-object checksum: clients skip validation without one.
        attributes = ObjectAttributes(
            attributes.content_type, attributes.headers, attributes.metadata, {}
        )
        joined = hashlib.md5()
        with self.store.begin_write(bucket, key) as writer:
            for number, part in found:
                joined.update(bytes.fromhex(str(part["etag"])))
                with open(path / f"{number:05d}.part", "rb") as f:
                    writer.copy_from(f)
            etag = f"{joined.hexdigest()}-{len(found)}"
            info = self.store.commit(bucket, key, writer, attributes, etag=etag)
        shutil.rmtree(path, ignore_errors=True)
        return info

    def abort(self, bucket: str, key: str, upload_id: str) -> None:
        self.store.head_bucket(bucket)
        shutil.rmtree(self._dir(bucket, key, upload_id), ignore_errors=True)

    def list_parts(self, bucket: str, key: str, upload_id: str) -> list[PartInfo]:
        path = self._dir(bucket, key, upload_id)
        parts = []
        for meta in sorted(path.glob("[0-9]*.json")):
            record = read_json(meta)
            if record is None:
                continue
            checksum = record.get("checksum")
            parts.append(
                PartInfo(
                    int(meta.stem),
                    int(record.get("size", 0)),
                    str(record.get("etag")),
                    meta.stat().st_mtime,
                    checksum if isinstance(checksum, dict) else {},
                )
            )
        return parts
