"""Which AWS service a request is for, from its SigV4 credential scope.

One port serves SageMaker, its runtime, CloudWatch, Logs, STS and path-style S3, whose paths
overlap (a bucket may be named ``endpoints`` or ``dashboard``). A signed request says which
service it was signed for: ``Credential=AKID/<date>/<region>/<service>/aws4_request`` in the
Authorization header, or ``X-Amz-Credential`` in a presigned URL's query. A SigV2 signature
(``Authorization: AWS key:sig``, or ``AWSAccessKeyId`` + ``Signature`` in the query, which
botocore's S3 presigner uses in us-east-1) is S3's: no other service tandem serves takes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["signing_service", "is_s3"]

_SCOPE = re.compile(r"Credential=[^/,\s]*/\d{8}/[^/,\s]*/([^/,\s]+)/aws4_request")
_QUERY_SCOPE = re.compile(r"^[^/]*/\d{8}/[^/]*/([^/]+)/aws4_request$")


def signing_service(authorization: str | None, query: Mapping[str, str]) -> str | None:
    """The service a request was signed for (``s3``, ``sts``, ``sagemaker``...), or None."""
    if authorization:
        if authorization.startswith("AWS "):
            return "s3"
        match = _SCOPE.search(authorization)
        return match.group(1) if match else None
    credential = query.get("X-Amz-Credential")
    if credential is not None:
        match = _QUERY_SCOPE.match(credential)
        return match.group(1) if match else None
    if "AWSAccessKeyId" in query and "Signature" in query:
        return "s3"
    return None


def is_s3(authorization: str | None, query: Mapping[str, str]) -> bool:
    return signing_service(authorization, query) == "s3"
