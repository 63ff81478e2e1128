"""A real tandem server in this process (its own loop on a thread) and boto3 clients forced
onto one CloudWatch protocol each."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import botocore.model
from botocore.config import Config

from tandem.config import Settings
from tandem.server import TandemServer

PROTOCOLS = ("json", "query", "smithy-rpc-v2-cbor")
_PATCH_LOCK = threading.Lock()


class ServerThread:
    """``TandemServer`` on 127.0.0.1 port 0, driven by an event loop on a daemon thread."""

    def __init__(self, data_dir: Path, flush_interval: float = 0.2) -> None:
        self.server = TandemServer(
            Settings(port=0, data_dir=data_dir, metrics_flush_interval=flush_interval)
        )
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


def cloudwatch_client(url: str, protocol: str, **config: Any) -> Any:
    """A boto3 CloudWatch client that speaks ``protocol`` (a fresh session: botocore caches
    the resolved protocol on each service model)."""
    with _PATCH_LOCK:
        saved = botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS
        botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = (protocol,)
        try:
            session = boto3.session.Session(
                aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
            )
            client = session.client(
                "cloudwatch",
                endpoint_url=url,
                config=Config(retries={"max_attempts": 1, "mode": "standard"}, **config),
            )
            assert client.meta.service_model.resolved_protocol == protocol
        finally:
            botocore.model.PRIORITY_ORDERED_SUPPORTED_PROTOCOLS = saved
    return client


def unique_namespace(prefix: str = "Test") -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}"


def eventually(
    fetch: Callable[[], Any], ready: Callable[[Any], bool], timeout: float = 10.0
) -> Any:
    """Poll ``fetch`` until ``ready`` (queries read the store, flushed every 0.2 s here)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if ready(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


@contextmanager
def running(data_dir: Path) -> Iterator[ServerThread]:
    server = ServerThread(data_dir).start()
    try:
        yield server
    finally:
        server.stop()
