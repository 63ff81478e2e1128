"""Tier (c): a receiver that is down or hangs slows no request; its spans are dropped and
counted in /metrics. (The p99 comparison is bench/pipeline's; here every request completes
while the export thread is provably stuck.)"""

from __future__ import annotations

import json
import re
import socket
import urllib.request
from collections.abc import Iterator

import pytest

from tests.e2e.support import client, deploy, stage_container
from tests.server_process import FAST_FLAGS, ServerProcess
from tests.tracing.receiver import OtlpReceiver

pytestmark = pytest.mark.slow


def _counter(server: ServerProcess, name: str) -> float:
    with urllib.request.urlopen(f"{server.url}/metrics") as response:
        text = response.read().decode()
    match = re.search(rf"^{name} (\S+)$", text, re.M)
    assert match, f"{name} not in /metrics"
    return float(match.group(1))


@pytest.fixture(params=["hang", "down"])
def failing(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess,
                                                                         OtlpReceiver | None]]:
    rx: OtlpReceiver | None = None
    holder = socket.socket()
    if request.param == "hang":
        rx = OtlpReceiver(mode="hang").start()
        url = rx.url
    else:
        holder.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{holder.getsockname()[1]}/v1/traces"
    flags = (*FAST_FLAGS, "--otlp-endpoint", url, "--trace-queue-size", "8",
             "--trace-batch-size", "4", "--trace-export-interval", "0.1", "--otlp-timeout", "60")
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-data"), flags).start()
    try:
        yield proc, rx
    finally:
        proc.stop()
        holder.close()
        if rx is not None:
            rx.close()


def test_requests_complete_while_the_exporter_is_stuck(
        failing: tuple[ServerProcess, OtlpReceiver | None]) -> None:
    server, rx = failing
    deploy(client(server, "sagemaker"), "stuck", [stage_container("a"), stage_container("b")])
    runtime = client(server, "sagemaker-runtime")

    def invoke(i: int) -> None:
        response = runtime.invoke_endpoint(EndpointName="stuck", Body=json.dumps(
            {"instances": [[i]]}), ContentType="application/json")
        assert json.loads(response["Body"].read())["instances"] == [[i + 2]]

    for i in range(4):
        invoke(i)  # 12 spans: the first batch goes to the receiver, the rest queue
    if rx is not None:
        deadline_held = 0
        while rx.held < 1:
            deadline_held += 1
            assert deadline_held < 2000, "the receiver never got a batch"
            invoke(100 + deadline_held)
    for i in range(40):
        invoke(1000 + i)
    if rx is not None:
        assert rx.held == 1  # the first export is still waiting; nothing else went out
    assert _counter(server, "tandem_trace_spans_dropped_total") > 0
    assert _counter(server, "tandem_trace_spans_exported_total") == 0
    assert _counter(server, "tandem_trace_spans_queued") <= 8
