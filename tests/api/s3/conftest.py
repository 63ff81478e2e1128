"""A real tandem server in this process and boto3 S3 clients for it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.server_thread import ServerThread


def s3_client(url: str, key: str = "test", secret: str = "test", **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    thread = ServerThread(tmp_path_factory.mktemp("tandem-s3")).start()
    yield thread
    thread.stop()


@pytest.fixture(scope="module")
def data_dir(server: ServerThread) -> Path:
    return Path(server.server.settings.data_dir)


@pytest.fixture(scope="module")
def s3(server: ServerThread) -> Any:
    return s3_client(server.url)
