"""A real tandem server in this process (its own event loop on a thread), and boto3 clients."""

from __future__ import annotations

from pathlib import Path

import boto3
from botocore.config import Config

from tests.server_thread import ServerThread as _ServerThread

__all__ = ["ServerThread", "logs_client", "aws_client"]


class ServerThread(_ServerThread):
    """The shared in-process server, committing log batches every 0.1 s."""

    def __init__(self, data_dir: Path, **settings: object) -> None:
        settings.setdefault("logs_flush_interval", 0.1)
        super().__init__(data_dir, **settings)


def aws_client(service: str, url: str, **config: object):  # type: ignore[no-untyped-def]
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),  # type: ignore[arg-type]
    )


def logs_client(url: str, **config: object):  # type: ignore[no-untyped-def]
    return aws_client("logs", url, **config)
