"""``s3://`` locations in any S3-compatible store (AWS S3, MinIO, another server), through
boto3 with its standard credential chain: staging downloads, publishing uploads."""

from __future__ import annotations

import importlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ValidationException
from .locations import local_mirror, split_s3_uri
from .names import check_key

__all__ = ["RemoteLocations"]

_DOWNLOADS = 8


class RemoteLocations:
    def __init__(self, endpoint_url: str | None, region: str) -> None:
        try:
            # Imported by name: boto3 ships no type information, and is an optional extra.
            boto3 = importlib.import_module("boto3")
        except ImportError:  # pragma: no cover - boto3 is in the s3 extra
            raise ConfigError(
                "s3_endpoint_url needs boto3: pip install 'tandem[s3]'", field="s3_endpoint_url"
            ) from None
        self.client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region)

    def stage(self, uri: str, scratch: Path) -> Path:
        bucket, key = split_s3_uri(uri)
        names = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for item in page.get("Contents", []):
                name = item["Key"]
                if name.endswith("/"):
                    continue  # a folder marker
                check_key(bucket, name)  # never a path outside the scratch directory
                names.append(name)
        if not names:
            raise ValidationException(f"{uri}: no objects found")

        def fetch(name: str) -> None:
            target = local_mirror(scratch, bucket, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            self.client.download_file(bucket, name, str(target))

        # Many small objects: several downloads at once (boto3 clients are thread-safe).
        with ThreadPoolExecutor(max_workers=_DOWNLOADS) as pool:
            list(pool.map(fetch, names))  # re-raises the first failure
        return local_mirror(scratch, bucket, key)

    def publish(self, source: Path, uri: str) -> None:
        bucket, key = split_s3_uri(uri)
        self.client.upload_file(str(source), bucket, key)
