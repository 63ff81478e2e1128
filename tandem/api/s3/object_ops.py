"""S3's object operations: PutObject, GetObject (with Range and the conditional headers),
HeadObject, DeleteObject and CopyObject."""

from __future__ import annotations

import re
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import BinaryIO
from urllib.parse import unquote

from aiohttp import web

from ...objects import ObjectInfo
from ...objects.errors import InvalidArgument, PreconditionFailed
from . import xml
from .body import plan_body, receive
from .context import S3Request, attributes_from
from .errors import InvalidRange, InvalidRequest

__all__ = [
    "put_object",
    "get_object",
    "delete_object",
    "copy_object",
    "copy_source",
    "parse_range",
    "checksum_headers",
]

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 1024 * 1024


def checksum_headers(checksum: Mapping[str, str]) -> dict[str, str]:
    return {f"x-amz-checksum-{alg.lower()}": value for alg, value in checksum.items()}


async def put_object(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    assert ctx.key is not None
    plan = plan_body(ctx.request.headers)
    writer = await ctx.run(ctx.store.begin_write, ctx.bucket, ctx.key, plan.hashes)
    try:
        checksum = await receive(ctx.request, writer, plan, ctx.chunk_signatures)
        info = await ctx.run(
            ctx.store.commit, ctx.bucket, ctx.key, writer, attributes_from(ctx.request, checksum)
        )
    finally:
        await ctx.run(writer.discard)
    return web.Response(headers=ctx.headers(**_written_headers(info)))


def _written_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {"ETag": xml.quoted(info.etag), **checksum_headers(dict(info.attributes.checksum))}
    for name in ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id"):
        if name in info.attributes.headers:
            headers[name] = info.attributes.headers[name]
    return headers


def parse_range(text: str, size: int, resource: str) -> tuple[int, int] | None:
    """``(first, last)`` byte of a ``bytes=a-b`` / ``bytes=a-`` / ``bytes=-n`` range, or None
    when the header does not parse (S3 then serves the whole object)."""
    match = _RANGE.match(text.strip())
    if match is None or match.group(1) == match.group(2) == "":
        return None
    start_text, end_text = match.groups()
    if start_text == "":
        length = int(end_text)
        if length == 0:
            raise _unsatisfiable(text, size, resource)
        return max(size - length, 0), size - 1
    start = int(start_text)
    end = int(end_text) if end_text else size - 1
    if end_text and end < start:
        return None
    if start >= size:
        raise _unsatisfiable(text, size, resource)
    return start, min(end, size - 1)


def _unsatisfiable(text: str, size: int, resource: str) -> InvalidRange:
    return InvalidRange(
        "The requested range is not satisfiable",
        resource,
        RangeRequested=text,
        ActualObjectSize=str(size),
    )


def _check_conditions(ctx: S3Request, info: ObjectInfo) -> int | None:
    """304 when the client's copy is current, raises 412 when a precondition fails."""
    h = ctx.request.headers
    etag = info.etag

    def etags(value: str) -> set[str]:
        return {part.strip().strip('"') for part in value.split(",")}

    def when(value: str) -> float | None:
        try:
            return parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError):
            return None

    failed = PreconditionFailed(
        "At least one of the pre-conditions you specified did not hold", ctx.resource
    )
    if "If-Match" in h:
        wanted = etags(h["If-Match"])
        if etag not in wanted and "*" not in wanted:
            raise failed
    elif "If-Unmodified-Since" in h:
        since = when(h["If-Unmodified-Since"])
        if since is not None and int(info.last_modified) > since:
            raise failed
    if "If-None-Match" in h:
        wanted = etags(h["If-None-Match"])
        if etag in wanted or "*" in wanted:
            return 304
    elif "If-Modified-Since" in h:
        since = when(h["If-Modified-Since"])
        if since is not None and int(info.last_modified) <= since:
            return 304
    return None


def _object_headers(info: ObjectInfo) -> dict[str, str]:
    headers = {
        "Content-Type": info.attributes.content_type,
        "ETag": xml.quoted(info.etag),
        "Last-Modified": xml.http_date(info.last_modified),
        "Accept-Ranges": "bytes",
        **info.attributes.headers,
    }
    headers.update({f"x-amz-meta-{k}": v for k, v in info.attributes.metadata.items()})
    if "-" in info.etag:
        headers["x-amz-mp-parts-count"] = info.etag.rpartition("-")[2]
    return headers


async def get_object(ctx: S3Request, *, head: bool = False) -> web.StreamResponse:
    ctx.check_owner()
    assert ctx.key is not None
    if head:
        info = await ctx.run(ctx.store.head_object, ctx.bucket, ctx.key)
        body: BinaryIO | None = None
    else:
        info, body = await ctx.run(ctx.store.open_object, ctx.bucket, ctx.key)
    try:
        return await _send(ctx, info, body, head)
    finally:
        if body is not None:
            await ctx.run(body.close)


async def _send(
    ctx: S3Request, info: ObjectInfo, body: BinaryIO | None, head: bool
) -> web.StreamResponse:
    headers = ctx.headers(**_object_headers(info))
    if _check_conditions(ctx, info) == 304:
        for name in ("Content-Type", "Accept-Ranges"):
            headers.pop(name, None)
        return web.Response(status=304, headers=headers)
    span = None
    if "Range" in ctx.request.headers:
        span = parse_range(ctx.request.headers["Range"], info.size, ctx.resource)
    if span is None:
        first, last, status = 0, info.size - 1, 200
        # A full GET returns the checksum kept for it (never a ranged one: clients would
        # check the part against the whole).
        if ctx.request.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers.update(checksum_headers(dict(info.attributes.checksum)))
    else:
        first, last, status = span[0], span[1], 206
        headers["Content-Range"] = f"bytes {first}-{last}/{info.size}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = last - first + 1
    await response.prepare(ctx.request)
    if body is not None and last >= first:
        if first:
            await ctx.run(body.seek, first)
        left = last - first + 1
        while left > 0:
            chunk = await ctx.run(body.read, min(_CHUNK, left))
            if not chunk:
                break  # truncated under us: the client sees a short body
            await response.write(chunk)
            left -= len(chunk)
    await response.write_eof()
    return response


async def delete_object(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    assert ctx.key is not None
    await ctx.run(ctx.store.delete_object, ctx.bucket, ctx.key)
    return web.Response(status=204, headers=ctx.headers())


def copy_source(header: str, resource: str) -> tuple[str, str]:
    """``(bucket, key)`` of ``x-amz-copy-source`` (``bucket/key``, percent-encoded, maybe
    with a leading ``/`` and a ``?versionId=``)."""
    source = header.split("?", 1)[0].lstrip("/")
    bucket, sep, key = source.partition("/")
    if not sep or not bucket or not key:
        raise InvalidArgument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
            resource,
            ArgumentName="x-amz-copy-source",
            ArgumentValue=header,
        )
    return unquote(bucket), unquote(key)


async def copy_object(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    assert ctx.key is not None
    source = copy_source(ctx.request.headers["x-amz-copy-source"], ctx.resource)
    directive = ctx.request.headers.get("x-amz-metadata-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE"):
        raise InvalidArgument(
            "Unknown metadata directive.",
            ctx.resource,
            ArgumentName="x-amz-metadata-directive",
            ArgumentValue=directive,
        )
    if source == (ctx.bucket, ctx.key) and directive == "COPY":
        raise InvalidRequest(
            "This copy request is illegal because it is trying to copy an object to itself "
            "without changing the object's metadata, storage class, website redirect "
            "location or encryption attributes.",
            ctx.resource,
        )
    attributes = attributes_from(ctx.request) if directive == "REPLACE" else None
    info = await ctx.run(
        ctx.store.copy_object,
        source,
        ctx.bucket,
        ctx.key,
        attributes,
        ctx.request.headers.get("x-amz-copy-source-if-match"),
    )
    body = xml.document(
        "CopyObjectResult",
        [
            xml.el("LastModified", xml.iso_time(info.last_modified)),
            xml.el("ETag", xml.quoted(info.etag)),
        ],
    )
    headers = ctx.headers(**{"Content-Type": "application/xml"})
    return web.Response(body=body, headers=headers)
