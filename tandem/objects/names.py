"""S3's bucket-name rules and the keys tandem can keep as files (pure functions)."""

from __future__ import annotations

import re

from .errors import InvalidBucketName, InvalidObjectName, KeyTooLong

__all__ = ["check_bucket_name", "check_key", "key_parts", "MAX_KEY_BYTES"]

MAX_KEY_BYTES = 1024
MAX_SEGMENT_BYTES = 255  # a file name's limit on Linux, macOS and Windows filesystems
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3")


def check_bucket_name(name: str) -> str:
    """``name`` if it follows S3's general-purpose bucket naming rules; else InvalidBucketName."""
    if (
        not _BUCKET.match(name)
        or ".." in name
        or _IP.match(name)
        or name.startswith(_PREFIXES)
        or name.endswith(_SUFFIXES)
    ):
        raise InvalidBucketName("The specified bucket is not valid.", f"/{name}", BucketName=name)
    return name


def check_key(bucket: str, key: str) -> str:
    """``key`` if it can be kept as a file under the bucket's directory.

    S3 itself takes any UTF-8 up to 1024 bytes; a key that would climb out of the directory
    or not survive the round trip through a path (``..``/``.`` segments, a leading ``/``,
    ``//``, NUL) is refused, as MinIO refuses them.
    """
    resource = f"/{bucket}/{key}"
    if not key:
        raise InvalidObjectName("Object key must not be empty.", resource)
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise KeyTooLong("Your key is too long", resource, Size=str(len(key.encode())))
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidObjectName("Object key must be valid UTF-8.", resource) from None
    body = key[:-1] if key.endswith("/") else key
    if "\x00" in key or key.startswith("/") or any(p in ("", ".", "..") for p in body.split("/")):
        raise InvalidObjectName(
            "Object key has a '.' or '..' segment, an empty segment ('//' or a leading '/') "
            "or a NUL character; tandem keeps objects as files and refuses such keys.",
            resource,
        )
    if any(len(part.encode()) > MAX_SEGMENT_BYTES for part in body.split("/")):
        raise InvalidObjectName(
            f"A segment of the key (between '/') is longer than {MAX_SEGMENT_BYTES} bytes: "
            "tandem keeps objects as files, and a file name can be no longer.",
            resource,
        )
    return key


def key_parts(key: str) -> list[str]:
    """The path segments of a checked key (a folder marker ``a/b/`` gives ``['a', 'b']``)."""
    return key.rstrip("/").split("/")
