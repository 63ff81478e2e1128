"""The object store's errors, each carrying S3's code and status (S3 is the API that reports
them; the wire layer renders them as S3's ``<Error>`` XML)."""

from __future__ import annotations

from ..errors import TandemError

__all__ = [
    "ObjectStoreError",
    "NoSuchBucket",
    "NoSuchKey",
    "NoSuchUpload",
    "BucketAlreadyOwnedByYou",
    "BucketNotEmpty",
    "InvalidBucketName",
    "InvalidObjectName",
    "KeyTooLong",
    "KeyConflict",
    "InvalidPart",
    "InvalidPartOrder",
    "EntityTooSmall",
    "InvalidArgument",
    "PreconditionFailed",
]


class ObjectStoreError(TandemError):
    """Base of the object store's errors; ``resource`` is the ``/bucket/key`` concerned."""

    code = "InternalError"
    status = 500

    def __init__(self, message: str, resource: str = "", **details: str) -> None:
        super().__init__(message, **details)
        self.resource = resource


class NoSuchBucket(ObjectStoreError):
    code = "NoSuchBucket"
    status = 404


class NoSuchKey(ObjectStoreError):
    code = "NoSuchKey"
    status = 404


class NoSuchUpload(ObjectStoreError):
    code = "NoSuchUpload"
    status = 404


class BucketAlreadyOwnedByYou(ObjectStoreError):
    code = "BucketAlreadyOwnedByYou"
    status = 409


class BucketNotEmpty(ObjectStoreError):
    code = "BucketNotEmpty"
    status = 409


class InvalidBucketName(ObjectStoreError):
    code = "InvalidBucketName"
    status = 400


class InvalidObjectName(ObjectStoreError):
    """A key tandem cannot keep as a file inside its bucket's directory (``..`` or ``.``
    segments, a leading ``/``, ``//``, NUL): refused rather than allowed to escape."""

    code = "InvalidObjectName"
    status = 400


class KeyTooLong(ObjectStoreError):
    code = "KeyTooLongError"
    status = 400


class KeyConflict(ObjectStoreError):
    """``a`` and ``a/b`` cannot both be files: S3 allows it, a directory tree cannot."""

    code = "KeyConflictsWithObject"
    status = 409


class InvalidPart(ObjectStoreError):
    code = "InvalidPart"
    status = 400


class InvalidPartOrder(ObjectStoreError):
    code = "InvalidPartOrder"
    status = 400


class EntityTooSmall(ObjectStoreError):
    code = "EntityTooSmall"
    status = 400


class InvalidArgument(ObjectStoreError):
    code = "InvalidArgument"
    status = 400


class PreconditionFailed(ObjectStoreError):
    code = "PreconditionFailed"
    status = 412
