from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from .support import PROTOCOLS, ServerThread, cloudwatch_client, running


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerThread]:
    with running(tmp_path_factory.mktemp("tandem-cw")) as srv:
        yield srv


@pytest.fixture(scope="session", params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def _clients(server: ServerThread) -> dict[str, Any]:
    return {p: cloudwatch_client(server.url, p) for p in PROTOCOLS}


@pytest.fixture
def cw(_clients: dict[str, Any], protocol: str) -> Any:
    return _clients[protocol]
