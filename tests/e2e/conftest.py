"""Tier (c): a real server on 127.0.0.1:0, real child processes, boto3 as the client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.support import client
from tests.server_process import ServerProcess


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-data")).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def sagemaker(server: ServerProcess):  # type: ignore[no-untyped-def]
    return client(server, "sagemaker")


@pytest.fixture(scope="module")
def runtime(server: ServerProcess):  # type: ignore[no-untyped-def]
    return client(server, "sagemaker-runtime")
