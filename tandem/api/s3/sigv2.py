"""S3's legacy Signature Version 2 (HMAC-SHA1), checked as botocore's ``HmacV1Auth`` and
``HmacV1QueryAuth`` sign: botocore's S3 presigner uses it by default in us-east-1, so presigned
URLs from ``generate_presigned_url`` carry ``AWSAccessKeyId``, ``Expires`` and ``Signature``.
Pure: no I/O."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import unquote

from ..auth import IncompleteSignature, InvalidSignature, UnrecognizedClient

__all__ = ["verify_v2"]

# The query keys that are part of what is signed (botocore's QSAOfInterest).
_SIGNED_QUERY = frozenset(
    "accelerate acl cors defaultObjectAcl location logging partNumber policy requestPayment "
    "torrent versioning versionId versions website uploads uploadId response-content-type "
    "response-content-language response-expires response-cache-control "
    "response-content-disposition response-content-encoding delete lifecycle tagging restore "
    "storageClass notification replication analytics metrics inventory select select-type "
    "object-lock".split()
)
_BAD = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your key and signing method."
)


def _resource(raw_path: str, raw_query: str) -> str:
    pairs = []
    for part in raw_query.split("&") if raw_query else ():
        name, sep, value = part.partition("=")
        if name in _SIGNED_QUERY:
            pairs.append(f"{name}={unquote(value)}" if sep else name)
    pairs.sort(key=lambda p: p.partition("=")[0])
    return raw_path + ("?" + "&".join(pairs) if pairs else "")


def verify_v2(
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Mapping[str, str],
    keys: Mapping[str, str],
    now: dt.datetime,
) -> str:
    """The access key id that signed the request (``headers``: lower-case names)."""
    query = {
        unquote(k): unquote(v) for k, _, v in (p.partition("=") for p in raw_query.split("&") if p)
    }
    authorization = headers.get("authorization")
    if authorization is not None:
        key_id, sep, given = authorization[4:].strip().rpartition(":")
        if not sep or not key_id:
            raise IncompleteSignature("The Authorization header must be 'AWS key:signature'.")
        when = headers.get("date", "")
    else:
        key_id, given = query.get("AWSAccessKeyId", ""), query.get("Signature", "")
        when = query.get("Expires", "")
        if not when.isdigit():
            raise IncompleteSignature("A presigned URL needs Expires in epoch seconds.")
        if now.timestamp() > int(when):
            raise InvalidSignature("Request has expired")
    secret = keys.get(key_id)
    if secret is None:
        raise UnrecognizedClient(
            "The AWS Access Key Id you provided does not exist in our records."
        )
    custom = sorted(
        (name, value.strip()) for name, value in headers.items() if name.startswith("x-amz-")
    )
    lines = [
        method.upper(),
        headers.get("content-md5", "").strip(),
        headers.get("content-type", "").strip(),
        when,
        *(f"{name}:{value}" for name, value in custom),
        _resource(raw_path, raw_query),
    ]
    expected = base64.b64encode(
        hmac.new(secret.encode(), "\n".join(lines).encode(), hashlib.sha1).digest()
    ).decode()
    if not hmac.compare_digest(expected, given):
        raise InvalidSignature(_BAD)
    return key_id
