"""Opt-in SigV4 authentication: signatures checked against configured access keys.

By default tandem accepts any request, signed or not. With ``auth_file``
(``tandem serve --auth keys.toml``) every request must carry a Signature
Version 4 signature — in the ``Authorization`` header, or presigned in the
query string — made with one of the file's keys::

    [[keys]]
    access_key_id = "AKIDEXAMPLE"
    secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"

The verification is pure (``verify``): it rebuilds the canonical request the
way botocore builds it (``botocore.auth.SigV4Auth``), derives the signing key
from the secret and compares signatures in constant time. The region and
service of the credential scope are taken as given (one port serves every
service). Failures are typed errors that each protocol renders in its own
shape: ``UnrecognizedClientException`` for an unknown key,
``InvalidSignatureException`` for a wrong signature, both 403.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote, unquote

from ..errors import ConfigError, TandemError

__all__ = [
    "AuthFailure",
    "IncompleteSignature",
    "InvalidSignature",
    "MissingAuthenticationToken",
    "SignedRequest",
    "UnrecognizedClient",
    "load_keys",
    "sign",
    "verify",
]

_ALGORITHM = "AWS4-HMAC-SHA256"
_UNSIGNED = "UNSIGNED-PAYLOAD"
_MAX_SKEW = dt.timedelta(minutes=15)
_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<credential>[^,\s]+),\s*"
    r"SignedHeaders=(?P<signed>[^,\s]+),\s*Signature=(?P<signature>[0-9a-fA-F]+)\s*$"
)


class AuthFailure(TandemError):
    status = 403
    # The query protocol's code (CloudWatch's legacy protocol names these differently).
    query_code = "AccessDenied"


class MissingAuthenticationToken(AuthFailure):
    code = "MissingAuthenticationTokenException"
    query_code = "MissingAuthenticationToken"


class IncompleteSignature(AuthFailure):
    code = "IncompleteSignatureException"
    query_code = "IncompleteSignature"


class UnrecognizedClient(AuthFailure):
    code = "UnrecognizedClientException"
    query_code = "InvalidClientTokenId"


class InvalidSignature(AuthFailure):
    code = "InvalidSignatureException"
    query_code = "SignatureDoesNotMatch"


_BAD_SIGNATURE = (
    "The request signature we calculated does not match the signature you provided. Check "
    "your AWS Secret Access Key and signing method. Consult the service documentation for "
    "details."
)


def load_keys(path: Path) -> dict[str, str]:
    """``access_key_id -> secret_access_key`` from a TOML file of ``[[keys]]`` tables."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}", file=str(path)) from None
    keys: dict[str, str] = {}
    entries = data.get("keys")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            f"{path}: keys: expected one or more [[keys]] tables", file=str(path), field="keys"
        )
    for i, entry in enumerate(entries):
        where = f"keys[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"access_key_id", "secret_access_key"}:
            raise ConfigError(
                f"{path}: {where}: needs exactly access_key_id and secret_access_key",
                file=str(path),
                field=where,
            )
        key_id, secret = entry["access_key_id"], entry["secret_access_key"]
        if not (isinstance(key_id, str) and key_id and isinstance(secret, str) and secret):
            raise ConfigError(
                f"{path}: {where}: both values must be non-empty strings",
                file=str(path),
                field=where,
            )
        keys[key_id] = secret
    return keys


@dataclasses.dataclass(frozen=True)
class SignedRequest:
    """What a signature covers: the request as it arrived (raw, still percent-encoded)."""

    method: str
    raw_path: str
    raw_query: str
    headers: Mapping[str, str]  # lower-case names
    body: bytes


def _canonical_query(raw_query: str, drop: str | None = None) -> str:
    pairs = []
    for part in raw_query.split("&") if raw_query else ():
        key, _, value = part.partition("=")
        key, value = unquote(key), unquote(value)
        if key != drop:
            pairs.append((quote(key, safe="-_.~"), quote(value, safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _canonical_request(
    req: SignedRequest,
    signed: list[str],
    payload_hash: str,
    drop_query: str | None = None,
    s3: bool = False,
) -> str:
    # botocore quotes the already-encoded path again (every service but S3, whose path is
    # signed as sent: neither normalised nor encoded twice).
    path = (req.raw_path or "/") if s3 else quote(req.raw_path or "/", safe="/~")
    headers = "".join(f"{name}:{' '.join(req.headers.get(name, '').split())}\n" for name in signed)
    return "\n".join(
        [
            req.method.upper(),
            path,
            _canonical_query(req.raw_query, drop_query),
            headers,
            ";".join(signed),
            payload_hash,
        ]
    )


def _signature(secret: str, amz_date: str, scope: str, canonical: str) -> str:
    date, region, service, terminal = scope.split("/")
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, terminal):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    to_sign = "\n".join(
        [_ALGORITHM, amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _parse_time(amz_date: str) -> dt.datetime:
    try:
        return dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        raise IncompleteSignature(
            f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
            "See http://en.wikipedia.org/wiki/ISO_8601"
        ) from None


def verify(
    req: SignedRequest, keys: Mapping[str, str], now: dt.datetime, *, s3: bool = False
) -> str:
    """The access key id that signed ``req``; raises an ``AuthFailure`` otherwise. ``s3``:
    the request is S3's (its path is signed as sent, its payload hash is its
    ``x-amz-content-sha256`` header, and the body is not at hand)."""
    query = {
        unquote(k): unquote(v)
        for k, _, v in (p.partition("=") for p in req.raw_query.split("&") if p)
    }
    authorization = req.headers.get("authorization")
    presigned = authorization is None and "X-Amz-Signature" in query
    if presigned:
        if query.get("X-Amz-Algorithm") != _ALGORITHM:
            raise IncompleteSignature("X-Amz-Algorithm must be AWS4-HMAC-SHA256.")
        credential = query.get("X-Amz-Credential", "")
        signed_text = query.get("X-Amz-SignedHeaders", "")
        given = query["X-Amz-Signature"]
        amz_date = query.get("X-Amz-Date", "")
    elif authorization is None:
        raise MissingAuthenticationToken("Missing Authentication Token")
    else:
        match = _AUTH_RE.match(authorization)
        if match is None:
            raise IncompleteSignature(
                f"Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' "
                f"parameters of the {_ALGORITHM} algorithm."
            )
        credential, signed_text, given = (match["credential"], match["signed"], match["signature"])
        amz_date = req.headers.get("x-amz-date", "")
    key_id, _, scope = credential.partition("/")
    if len(scope.split("/")) != 4 or not scope.endswith("/aws4_request"):
        raise IncompleteSignature(
            f"Credential should be scoped to a valid region, service and "
            f"terminal aws4_request. Got '{credential}'."
        )
    secret = keys.get(key_id)
    if secret is None:
        raise UnrecognizedClient("The security token included in the request is invalid.")
    when = _parse_time(amz_date)
    if presigned:
        expires = int(query.get("X-Amz-Expires", "0") or 0)
        if now > when + dt.timedelta(seconds=expires):
            raise InvalidSignature("Signature expired: the presigned request has expired.")
    elif abs(now - when) > _MAX_SKEW:
        raise InvalidSignature(
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - _MAX_SKEW).strftime('%Y%m%dT%H%M%SZ')} "
            f"({now.strftime('%Y%m%dT%H%M%SZ')} - 15 min.)"
        )
    if not scope.startswith(amz_date[:8] + "/"):
        raise InvalidSignature(_BAD_SIGNATURE)
    signed = signed_text.split(";")
    if "host" not in signed:
        raise InvalidSignature(_BAD_SIGNATURE)
    body_hash = req.headers.get("x-amz-content-sha256")
    candidates = [body_hash] if body_hash else [hashlib.sha256(req.body).hexdigest()]
    if presigned and not body_hash:
        candidates.append(_UNSIGNED)
    drop = "X-Amz-Signature" if presigned else None
    for payload_hash in candidates:
        expected = _signature(
            secret, amz_date, scope, _canonical_request(req, signed, payload_hash, drop, s3)
        )
        if hmac.compare_digest(expected, given.lower()):
            return key_id
    raise InvalidSignature(_BAD_SIGNATURE)


def sign(
    req: SignedRequest,
    key_id: str,
    secret: str,
    now: dt.datetime,
    region: str = "us-east-1",
    service: str = "sagemaker",
) -> str:
    """The ``Authorization`` value for ``req`` (with ``x-amz-date`` and ``host`` among its
    headers); for tests and tools that are not botocore."""
    amz_date = now.strftime("%Y%m%dT%H%M%SZ")
    scope = f"{amz_date[:8]}/{region}/{service}/aws4_request"
    signed = sorted(req.headers)
    canonical = _canonical_request(req, signed, hashlib.sha256(req.body).hexdigest())
    return (
        f"{_ALGORITHM} Credential={key_id}/{scope}, SignedHeaders={';'.join(signed)}, "
        f"Signature={_signature(secret, amz_date, scope, canonical)}"
    )
