"""A real tandem server in this process (its own loop on a thread) and boto3 clients forced
onto one CloudWatch protocol each."""

from __future__ import annotations

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

from tests.server_thread import ServerThread as _ServerThread

PROTOCOLS = ("json", "query", "smithy-rpc-v2-cbor")
_PATCH_LOCK = threading.Lock()


class ServerThread(_ServerThread):
    """The shared in-process server, flushing metrics every ``flush_interval`` seconds."""

    def __init__(self, data_dir: Path, flush_interval: float = 0.2) -> None:
        super().__init__(data_dir, metrics_flush_interval=flush_interval)


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
    fetch: Callable[[], Any], ready: Callable[[Any], bool], timeout: float = 60.0
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
