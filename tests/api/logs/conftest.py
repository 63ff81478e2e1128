"""A real tandem server in this process (its own event loop on a thread), one per test module,
and boto3 Logs clients for it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from tandem.config import Settings
from tandem.server import TandemServer


class ServerThread:
    def __init__(self, data_dir: Path, **settings: object) -> None:
        self.server = TandemServer(Settings(port=0, data_dir=data_dir, logs_flush_interval=0.1,
                                            **settings))  # type: ignore[arg-type]
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(60)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @property
    def url(self) -> str:
        return self.server.url


def logs_client(url: str, **config: object):  # type: ignore[no-untyped-def]
    return boto3.client(
        "logs", endpoint_url=url, region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    running = ServerThread(tmp_path_factory.mktemp("tandem-logs")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def logs(server: ServerThread):  # type: ignore[no-untyped-def]
    return logs_client(server.url)
