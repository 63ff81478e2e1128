"""S3's multipart operations: CreateMultipartUpload, UploadPart, UploadPartCopy,
CompleteMultipartUpload, AbortMultipartUpload and ListParts."""

from __future__ import annotations

from aiohttp import web

from ...objects.errors import InvalidArgument
from ...objects.files import BodyWriter
from ...objects.records import PartInfo
from . import xml
from .body import plan_body, receive
from .bucket_ops import read_xml_body
from .context import S3Request, attributes_from
from .object_ops import checksum_headers, copy_source, parse_range

__all__ = [
    "create_upload",
    "upload_part",
    "upload_part_copy",
    "complete_upload",
    "abort_upload",
    "list_parts",
]

_XML = {"Content-Type": "application/xml"}


def _upload_id(ctx: S3Request) -> str:
    return ctx.request.query.get("uploadId", "")


def _part_number(ctx: S3Request) -> int:
    text = ctx.request.query.get("partNumber", "")
    if not text.isdigit():
        raise InvalidArgument(
            "Part number must be an integer between 1 and 10000, inclusive",
            ctx.resource,
            ArgumentName="partNumber",
            ArgumentValue=text,
        )
    return int(text)


async def create_upload(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    assert ctx.key is not None
    upload_id = await ctx.run(ctx.uploads.create, ctx.bucket, ctx.key, attributes_from(ctx.request))
    body = xml.document(
        "InitiateMultipartUploadResult",
        [xml.el("Bucket", ctx.bucket), xml.el("Key", ctx.key), xml.el("UploadId", upload_id)],
    )
    headers = ctx.headers(**_XML)
    algorithm = ctx.request.headers.get("x-amz-checksum-algorithm")
    if algorithm:
        headers["x-amz-checksum-algorithm"] = algorithm
    return web.Response(body=body, headers=headers)


async def upload_part(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    assert ctx.key is not None
    number = _part_number(ctx)
    plan = plan_body(ctx.request.headers)
    writer: BodyWriter = await ctx.run(
        ctx.uploads.begin_part, ctx.bucket, ctx.key, _upload_id(ctx), number, plan.hashes
    )
    try:
        checksum = await receive(ctx.request, writer, plan, ctx.chunk_signatures)
        part: PartInfo = await ctx.run(
            ctx.uploads.commit_part, ctx.bucket, ctx.key, _upload_id(ctx), number, writer, checksum
        )
    finally:
        await ctx.run(writer.discard)
    headers = ctx.headers(ETag=xml.quoted(part.etag), **checksum_headers(checksum))
    return web.Response(headers=headers)


def _copy_part(
    ctx: S3Request, source: tuple[str, str], number: int, range_text: str | None
) -> PartInfo:
    """UploadPartCopy's work, on a worker thread."""
    assert ctx.key is not None
    info, f = ctx.store.open_object(*source)
    with f:
        first, length = 0, info.size
        if range_text is not None:
            span = parse_range(range_text, info.size, f"/{source[0]}/{source[1]}")
            if span is None:
                raise InvalidArgument(
                    "The x-amz-copy-source-range value must be of the form bytes=first-last",
                    ctx.resource,
                    ArgumentName="x-amz-copy-source-range",
                    ArgumentValue=range_text,
                )
            first, length = span[0], span[1] - span[0] + 1
        writer = ctx.uploads.begin_part(ctx.bucket, ctx.key, _upload_id(ctx), number)
        with writer:
            f.seek(first)
            writer.copy_from(f, length)
            return ctx.uploads.commit_part(ctx.bucket, ctx.key, _upload_id(ctx), number, writer, {})


async def upload_part_copy(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    source = copy_source(ctx.request.headers["x-amz-copy-source"], ctx.resource)
    part = await ctx.run(
        _copy_part,
        ctx,
        source,
        _part_number(ctx),
        ctx.request.headers.get("x-amz-copy-source-range"),
    )
    body = xml.document(
        "CopyPartResult",
        [
            xml.el("LastModified", xml.iso_time(part.last_modified)),
            xml.el("ETag", xml.quoted(part.etag)),
        ],
    )
    return web.Response(body=body, headers=ctx.headers(**_XML))


async def complete_upload(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    assert ctx.key is not None
    parts = xml.parse_complete(await read_xml_body(ctx))
    info = await ctx.run(ctx.uploads.complete, ctx.bucket, ctx.key, _upload_id(ctx), parts)
    host = ctx.request.host
    body = xml.document(
        "CompleteMultipartUploadResult",
        [
            xml.el("Location", f"http://{host}/{ctx.bucket}/{ctx.key}"),
            xml.el("Bucket", ctx.bucket),
            xml.el("Key", ctx.key),
            xml.el("ETag", xml.quoted(info.etag)),
        ],
    )
    return web.Response(body=body, headers=ctx.headers(**_XML))


async def abort_upload(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    assert ctx.key is not None
    await ctx.run(ctx.uploads.abort, ctx.bucket, ctx.key, _upload_id(ctx))
    return web.Response(status=204, headers=ctx.headers())


async def list_parts(ctx: S3Request) -> web.Response:
    ctx.check_owner()
    assert ctx.key is not None
    parts = await ctx.run(ctx.uploads.list_parts, ctx.bucket, ctx.key, _upload_id(ctx))
    body = xml.list_parts(ctx.bucket, ctx.key, _upload_id(ctx), parts)
    return web.Response(body=body, headers=ctx.headers(**_XML))
