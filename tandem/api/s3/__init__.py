"""S3 on tandem's port: path-style REST-XML over the object store (``tandem.objects``)."""

from __future__ import annotations

from .scope import is_s3, signing_service
from .service import S3Service

__all__ = ["S3Service", "is_s3", "signing_service"]
