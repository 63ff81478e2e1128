"""``s3://`` locations in any S3-compatible store (AWS S3, MinIO, another server), through
boto3 with its standard credential chain: staging downloads, publishing uploads.

``RemoteLocations.over(client)`` uses a client made elsewhere: a remote instance agent's plain
botocore client for tandem's own S3 API, signed with the agent's key (staging only)."""

from __future__ import annotations

import importlib
import os
import shutil
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

    @classmethod
    def over(cls, client: Any) -> RemoteLocations:
        """Locations staged through ``client`` (boto3's or botocore's S3 client)."""
        locations = cls.__new__(cls)
        locations.client = client
        return locations

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
                names.append((name, item.get("Size")))
        if not names:
            raise ValidationException(f"{uri}: no objects found")

        def fetch(entry: tuple[str, int | None]) -> None:
            name, size = entry
            target = local_mirror(scratch, bucket, name)
            if target.is_file() and target.stat().st_size == size:
                return  # staged moments ago into this scratch (a check before the start)
            target.parent.mkdir(parents=True, exist_ok=True)
            if hasattr(self.client, "download_file"):  # boto3: ranged parallel transfers
                self.client.download_file(bucket, name, str(target))
                return
            partial = target.with_name(f".{target.name}.part")
            body = self.client.get_object(Bucket=bucket, Key=name)["Body"]
            with open(partial, "wb") as out:
                shutil.copyfileobj(body, out, 1 << 20)
            os.replace(partial, target)

        # Many small objects: several downloads at once (boto3 clients are thread-safe).
        with ThreadPoolExecutor(max_workers=_DOWNLOADS) as pool:
            list(pool.map(fetch, names))  # re-raises the first failure
        return local_mirror(scratch, bucket, key)

    def publish(self, source: Path, uri: str) -> None:
        bucket, key = split_s3_uri(uri)
        self.client.upload_file(str(source), bucket, key)
