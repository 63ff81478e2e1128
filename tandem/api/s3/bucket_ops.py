"""S3's bucket operations: ListBuckets, CreateBucket, HeadBucket, DeleteBucket,
GetBucketLocation, ListObjects (v1 and v2) and DeleteObjects."""

from __future__ import annotations

import asyncio
import base64
import binascii
from xml.sax.saxutils import escape

from aiohttp import web

from ...objects import FileObjectStore
from ...objects.errors import BucketAlreadyOwnedByYou, InvalidArgument, ObjectStoreError
from . import xml
from .context import S3Request
from .errors import InvalidRequest

__all__ = [
    "list_buckets",
    "create_bucket",
    "head_bucket",
    "delete_bucket",
    "get_bucket_location",
    "list_objects",
    "delete_objects",
]

_XML = "application/xml"
_MAX_XML_BODY = 2 * 1024 * 1024


async def read_xml_body(ctx: S3Request) -> bytes:
    if (ctx.request.content_length or 0) > _MAX_XML_BODY:
        raise InvalidRequest("The XML body is too large.", ctx.resource)
    body = bytearray()
    while chunk := await ctx.request.content.readany():
        body += chunk
        if len(body) > _MAX_XML_BODY:
            raise InvalidRequest("The XML body is too large.", ctx.resource)
    return bytes(body)


async def list_buckets(
    request: web.Request, store: FileObjectStore, request_id: str, owner: str
) -> web.Response:
    buckets = await asyncio.to_thread(store.list_buckets)
    return web.Response(
        body=xml.list_buckets(buckets, owner),
        headers={"x-amz-request-id": request_id, "Content-Type": _XML},
    )


async def create_bucket(ctx: S3Request) -> web.Response:
    location = xml.parse_location(await read_xml_body(ctx))
    try:
        await ctx.run(ctx.store.create_bucket, ctx.bucket, location or "us-east-1")
    except BucketAlreadyOwnedByYou:
        # us-east-1 answers a repeated CreateBucket of one's own bucket with 200.
        if location not in (None, "us-east-1"):
            raise
    return web.Response(headers=ctx.headers(Location=f"/{ctx.bucket}"))


async def head_bucket(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    info = await ctx.run(ctx.store.head_bucket, ctx.bucket)
    return web.Response(headers=ctx.headers(**{"x-amz-bucket-region": info.region}))


async def delete_bucket(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    await ctx.run(ctx.store.delete_bucket, ctx.bucket)
    return web.Response(status=204, headers=ctx.headers())


async def get_bucket_location(ctx: S3Request) -> web.Response:
    info = await ctx.run(ctx.store.head_bucket, ctx.bucket)
    location = "" if info.region == "us-east-1" else info.region
    body = xml.document("LocationConstraint", [escape(location)])
    return web.Response(body=body, headers=ctx.headers(**{"Content-Type": _XML}))


def _max_keys(text: str | None) -> int:
    if text is None:
        return 1000
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise InvalidArgument(
            "Provided max-keys not an integer or within integer range",
            ArgumentName="max-keys",
            ArgumentValue=text,
        )
    return min(value, 1000)


def _token(text: str) -> str:
    try:
        after = base64.b64decode(text.encode(), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        after = ""
    if not after:
        raise InvalidArgument(
            "The continuation token provided is incorrect",
            ArgumentName="continuation-token",
            ArgumentValue=text,
        )
    return after


async def list_objects(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    q = ctx.request.query
    v2 = q.get("list-type") == "2"
    encoding = q.get("encoding-type")
    if encoding not in (None, "url"):
        raise InvalidArgument(
            "Invalid Encoding Method specified in Request",
            ArgumentName="encoding-type",
            ArgumentValue=encoding,
        )
    prefix = q.get("prefix", "")
    delimiter = q.get("delimiter", "")
    max_keys = _max_keys(q.get("max-keys"))
    params: dict[str, str | None]
    if v2:
        token = q.get("continuation-token")
        start_after = q.get("start-after")
        after = _token(token) if token is not None else start_after
        page = await ctx.run(
            ctx.store.list_objects,
            ctx.bucket,
            prefix=prefix,
            delimiter=delimiter,
            after=after,
            max_keys=max_keys,
        )
        next_token = (
            base64.urlsafe_b64encode(page.last.encode()).decode()
            if page.truncated and page.last is not None
            else None
        )
        params = {
            "Prefix": prefix,
            "Delimiter": delimiter or None,
            "MaxKeys": str(max_keys),
            "KeyCount": str(len(page.contents) + len(page.common_prefixes)),
            "ContinuationToken": token,
            "NextContinuationToken": next_token,
            "StartAfter": start_after,
        }
        owner = ctx.account_id if q.get("fetch-owner") == "true" else None
    else:
        marker = q.get("marker")
        page = await ctx.run(
            ctx.store.list_objects,
            ctx.bucket,
            prefix=prefix,
            delimiter=delimiter,
            after=marker or None,
            max_keys=max_keys,
        )
        params = {
            "Prefix": prefix,
            "Marker": marker or "",
            "NextMarker": page.last if page.truncated and delimiter else None,
            "MaxKeys": str(max_keys),
            "Delimiter": delimiter or None,
        }
        owner = ctx.account_id
    body = xml.list_objects(
        page, bucket=ctx.bucket, params=params, encode=encoding == "url", owner=owner
    )
    return web.Response(body=body, headers=ctx.headers(**{"Content-Type": _XML}))


async def delete_objects(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    keys, quiet = xml.parse_delete(await read_xml_body(ctx))
    await ctx.run(ctx.store.head_bucket, ctx.bucket)
    deleted: list[str] = []
    errors: list[str] = []
    for key in keys:
        try:
            await ctx.run(ctx.store.delete_object, ctx.bucket, key)
        except ObjectStoreError as error:
            errors.append(
                f"<Error>{xml.el('Key', key)}{xml.el('Code', error.code)}"
                f"{xml.el('Message', error.message)}</Error>"
            )
            continue
        if not quiet:
            deleted.append(f"<Deleted>{xml.el('Key', key)}</Deleted>")
    body = xml.document("DeleteResult", [*deleted, *errors])
    return web.Response(body=body, headers=ctx.headers(**{"Content-Type": _XML}))
