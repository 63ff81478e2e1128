"""One in-process tandem server per test module, and a boto3 Logs client for it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server_thread import ServerThread, logs_client

__all__ = ["logs_client"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    running = ServerThread(tmp_path_factory.mktemp("tandem-logs")).start()
    yield running
    running.stop()


@pytest.fixture(scope="module")
def logs(server: ServerThread):  # type: ignore[no-untyped-def]
    return logs_client(server.url)
