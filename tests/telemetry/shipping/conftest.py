"""A real server for the shipping tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_process import ServerProcess
from tests.telemetry.shipping.support import auth_flags


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server that takes only requests signed with the shipper's key."""
    proc = ServerProcess(tmp_path / "data", extra=auth_flags(tmp_path)).start()
    try:
        yield proc
    finally:
        proc.stop()
