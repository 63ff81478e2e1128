"""tandem's S3 API: path-style requests routed by method and query to the operations.

``/`` is the account (ListBuckets), ``/<bucket>`` a bucket, ``/<bucket>/<key>`` an object; the
key is the rest of the path after the bucket, percent-decoded once and never normalised
(``a//b`` and ``a/../b`` arrive as sent, and the store refuses what it cannot keep).
With access keys configured, every request must carry a valid SigV4 signature for ``s3``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Mapping
from urllib.parse import unquote

from aiohttp import web

from ...objects import FileObjectStore, MultipartUploads
from ...objects.names import check_bucket_name
from .. import auth
from . import bucket_ops, object_ops, upload_ops
from .context import S3Request
from .errors import InvalidRequest, MethodNotAllowed, NotImplementedOperation, error_response
from .sigv2 import verify_v2
from .streaming import ChunkSignatures, chunk_signatures_for

__all__ = ["S3Service"]

Operation = Callable[[S3Request], Awaitable[web.StreamResponse]]

# Subresources of buckets and objects that tandem does not serve: answered NotImplemented
# rather than mistaken for a listing or a plain GET/PUT.
_UNSERVED = frozenset(
    "accelerate acl analytics attributes cors encryption intelligent-tiering inventory "
    "legal-hold lifecycle logging metrics notification object-lock ownershipControls policy "
    "policyStatus publicAccessBlock replication requestPayment restore retention select "
    "tagging torrent versioning versions website".split()
)


def _bucket_operation(method: str, query: Mapping[str, str]) -> Operation | None:
    if method == "GET":
        if "location" in query:
            return bucket_ops.get_bucket_location
        if "uploads" in query:
            return None
        return bucket_ops.list_objects
    if method == "POST":
        return bucket_ops.delete_objects if "delete" in query else None
    table: dict[str, Operation] = {
        "PUT": bucket_ops.create_bucket,
        "HEAD": bucket_ops.head_bucket,
        "DELETE": bucket_ops.delete_bucket,
    }
    return table.get(method)


def _object_operation(
    method: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> Operation | None:
    upload = "uploadId" in query
    if method == "PUT":
        copy = "x-amz-copy-source" in headers
        if upload or "partNumber" in query:
            return upload_ops.upload_part_copy if copy else upload_ops.upload_part
        return object_ops.copy_object if copy else object_ops.put_object
    if method == "POST":
        if "uploads" in query:
            return upload_ops.create_upload
        return upload_ops.complete_upload if upload else None
    if method == "GET":
        return upload_ops.list_parts if upload else object_ops.get_object
    if method == "HEAD":
        return _head_object
    if method == "DELETE":
        return upload_ops.abort_upload if upload else object_ops.delete_object
    return None


async def _head_object(ctx: S3Request) -> web.StreamResponse:
    return await object_ops.get_object(ctx, head=True)


class S3Service:
    """The S3 operations over a ``FileObjectStore``."""

    def __init__(
        self,
        store: FileObjectStore,
        *,
        account_id: str,
        region: str,
        auth_keys: Mapping[str, str] | None = None,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.store = store
        self.uploads = MultipartUploads(store)
        self.account_id = account_id
        self.region = region
        self.auth_keys = auth_keys
        self.now = now

    async def handle(self, request: web.Request) -> web.StreamResponse:
        request_id = uuid.uuid4().hex[:16].upper()
        head = request.method == "HEAD"
        raw_path = request.rel_url.raw_path
        try:
            chunks = self._verify(request) if self.auth_keys else None
            return await self._route(request, raw_path, request_id, chunks)
        except Exception as error:  # noqa: BLE001 - every failure gets S3's error shape
            if isinstance(error, web.HTTPException):
                raise
            return error_response(
                error, request_id=request_id, resource=unquote(raw_path), head=head
            )

    def _verify(self, request: web.Request) -> ChunkSignatures | None:
        """Check the request's signature; what a signed aws-chunked body's chunks must match."""
        headers = {k.lower(): v for k, v in request.headers.items()}
        authorization = headers.get("authorization", "")
        if authorization.startswith("AWS ") or (
            not authorization and "AWSAccessKeyId" in request.query
        ):
            verify_v2(
                request.method,
                request.rel_url.raw_path,
                request.rel_url.raw_query_string,
                headers,
                self.auth_keys or {},
                self.now(),
            )
            return None
        if authorization and "x-amz-content-sha256" not in headers:
            raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
        signed = auth.SignedRequest(
            request.method,
            request.rel_url.raw_path,
            request.rel_url.raw_query_string,
            headers,
            b"",
        )
        auth.verify(signed, self.auth_keys or {}, self.now(), s3=True)
        return chunk_signatures_for(headers, self.auth_keys or {})

    async def _route(
        self,
        request: web.Request,
        raw_path: str,
        request_id: str,
        chunks: ChunkSignatures | None = None,
    ) -> web.StreamResponse:
        bucket_text, _, key_text = raw_path[1:].partition("/")
        method = request.method
        if not bucket_text:
            if method != "GET":
                raise MethodNotAllowed(
                    "The specified method is not allowed against this resource.", "/"
                )
            return await bucket_ops.list_buckets(request, self.store, request_id, self.account_id)
        bucket = check_bucket_name(unquote(bucket_text))
        key = unquote(key_text) if key_text else None
        query = request.query
        unserved = _UNSERVED.intersection(query)
        if unserved:
            raise NotImplementedOperation(
                f"tandem's S3 does not serve the '{sorted(unserved)[0]}' subresource.",
                raw_path,
            )
        operation = (
            _bucket_operation(method, query)
            if key is None
            else _object_operation(method, query, request.headers)
        )
        if operation is None:
            raise NotImplementedOperation(
                f"tandem's S3 does not serve {method} on this resource with these parameters.",
                raw_path,
            )
        ctx = S3Request(
            request,
            bucket,
            key,
            request_id,
            self.store,
            self.uploads,
            self.account_id,
            self.region,
            chunks,
        )
        return await operation(ctx)
