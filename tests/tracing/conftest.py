"""A real OTLP/HTTP receiver and a tandem server exporting to it (one of each per module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.server_process import FAST_FLAGS, ServerProcess
from tests.tracing.receiver import OtlpReceiver


@pytest.fixture(scope="module")
def receiver() -> Iterator[OtlpReceiver]:
    rx = OtlpReceiver().start()
    yield rx
    rx.close()


@pytest.fixture(scope="module")
def traced_server(tmp_path_factory: pytest.TempPathFactory,
                  receiver: OtlpReceiver) -> Iterator[ServerProcess]:
    flags = (*FAST_FLAGS, "--otlp-endpoint", receiver.url, "--trace-export-interval", "0.2")
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-data"), flags).start()
    yield proc
    proc.stop()
