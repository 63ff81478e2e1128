"""The `tandem` command against a real server, over HTTP, as a user types it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from typing import IO

import pytest
from botocore.exceptions import ClientError

from tests.e2e.support import STAGE, client
from tests.waiting import wait_until

pytestmark = pytest.mark.slow


def tandem(server, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    env = dict(os.environ, COLUMNS="200", TANDEM_URL=server.url)
    return subprocess.run(
        [sys.executable, "-m", "tandem", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="module")
def deployed(server, tmp_path_factory) -> str:  # type: ignore[no-untyped-def]
    path = tmp_path_factory.mktemp("yaml") / "cli.yaml"
    path.write_text(
        textwrap.dedent(f"""
        Models:
          - ModelName: cli-model
            Containers:
              - {{ContainerHostname: head, Image: {STAGE}, Environment: {{STAGE_NAME: head}}}}
              - {{ContainerHostname: tail, Image: {STAGE}, Environment: {{STAGE_NAME: tail}}}}
        EndpointConfigs:
          - EndpointConfigName: cli-config
            ProductionVariants: [{{VariantName: AllTraffic, ModelName: cli-model}}]
        Endpoints:
          - {{EndpointName: cli-endpoint, EndpointConfigName: cli-config}}
    """)
    )
    result = tandem(server, "deploy", str(path), "--wait")
    assert result.returncode == 0, result.stderr
    assert "created model cli-model" in result.stdout
    assert "InService" in result.stdout
    return "cli-endpoint"


def test_endpoints_and_invoke(server, deployed) -> None:  # type: ignore[no-untyped-def]
    listing = tandem(server, "endpoints")
    assert "cli-endpoint" in listing.stdout and "InService" in listing.stdout
    result = tandem(server, "invoke", deployed, "--body", '{"instances": [1, 2]}')
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["instances"] == [3, 4]


def test_invoke_errors_are_reported_not_traced(server, deployed) -> None:  # type: ignore[no-untyped-def]
    result = tandem(server, "invoke", deployed, "--body", '{"status": 418, "fail_at": "head"}')
    assert result.returncode == 1
    assert "ModelError: Received client error (418) from head" in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr
    missing = tandem(server, "invoke", "no-such-endpoint", "--body", "{}")
    assert missing.returncode == 1 and "ValidationError" in missing.stderr


def test_logs_commands_print_untrusted_text_plainly(server, deployed) -> None:  # type: ignore[no-untyped-def]
    group = f"/aws/sagemaker/Endpoints/{deployed}"
    assert group in tandem(server, "logs", "groups", "--prefix", "/aws/sagemaker/").stdout
    streams = tandem(server, "logs", "streams", group).stdout
    assert "AllTraffic/i-" in streams and "/head" in streams and "/tail" in streams
    tandem(server, "invoke", deployed, "--body", json.dumps({"print": 1}))
    filtered = tandem(server, "logs", "filter", group, '"head: line 0"').stdout
    assert filtered.count("head: line 0") == 1 and "tail: line 0" not in filtered
    bad = tandem(server, "logs", "filter", group, "{ $.x = ")
    assert bad.returncode == 1 and "InvalidParameterException" in bad.stderr
    assert "Traceback" not in bad.stderr


def _lines(pipe: IO[str]) -> tuple[queue.Queue[str], threading.Thread]:
    """The pipe's lines as a queue, read by a thread (so a wait for a line has a deadline),
    which closes the pipe at its end."""
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        with pipe:
            for line in pipe:
                lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return lines, reader


def _next_line_with(lines: queue.Queue[str], text: str, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no line with {text!r} in {timeout} s")
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if text in line:
            return line


def test_logs_tail_follow_shows_new_lines(server, deployed) -> None:  # type: ignore[no-untyped-def]
    # An event from before the follower starts: printing it shows the first poll is done, so
    # the next one can only come from following.
    tandem(server, "invoke", deployed, "--body", json.dumps({"print": 5}))
    env = dict(os.environ, COLUMNS="200", TANDEM_URL=server.url)
    follower = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tandem",
            "logs",
            "tail",
            f"/aws/sagemaker/Endpoints/{deployed}",
            "--follow",
            "--filter",
            '"tail: line 4"',
            "--interval",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    lines, reader = _lines(follower.stdout)  # type: ignore[arg-type]
    try:
        _next_line_with(lines, "tail: line 4")
        tandem(server, "invoke", deployed, "--body", json.dumps({"print": 5}))
        assert "tail: line 4" in _next_line_with(lines, "tail: line 4")
        assert follower.poll() is None  # still following
    finally:
        follower.terminate()
        follower.wait(timeout=60)
        reader.join(timeout=60)  # it sees the pipe's end, closes it and stops


def test_metrics_commands(server, deployed) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        tandem(server, "invoke", deployed, "--body", '{"instances": [1]}')
    cloudwatch = client(server, "cloudwatch")
    dims = [
        {"Name": "EndpointName", "Value": deployed},
        {"Name": "VariantName", "Value": "AllTraffic"},
    ]

    def invocations() -> float:
        now = time.time()
        points = cloudwatch.get_metric_statistics(
            Namespace="AWS/SageMaker", MetricName="Invocations", Dimensions=dims,
            StartTime=now - 3600, EndTime=now + 60, Period=3600, Statistics=["Sum"],
        )["Datapoints"]
        return sum(p["Sum"] for p in points)

    wait_until(lambda: invocations() >= 3, "the three invocations in the statistics")

    def listed() -> str:
        return tandem(
            server, "metrics", "list", "--namespace", "AWS/SageMaker",
            "-d", f"EndpointName={deployed}",
        ).stdout

    wait_until(
        lambda: "ContainerLatency" in (text := listed()) and "ModelLatency" in text,
        "ContainerLatency and ModelLatency in the listing",
    )
    got = tandem(
        server,
        "metrics",
        "get",
        "AWS/SageMaker",
        "Invocations",
        "-d",
        f"EndpointName={deployed}",
        "-d",
        "VariantName=AllTraffic",
        "--chart",
        "Sum",
    )
    assert got.returncode == 0, got.stderr
    assert "SampleCount" in got.stdout and "Sum over time" in got.stdout
    summary = tandem(server, "metrics", "endpoint", deployed).stdout
    rows = [
        line.split("│")[2].strip()
        for line in summary.splitlines()
        if line.startswith("│ ContainerLatency")
    ]
    assert rows == ["head", "tail"]  # the pipeline's containers, in order


def test_delete(server, sagemaker, deployed) -> None:  # type: ignore[no-untyped-def]
    result = tandem(server, "delete", deployed, "--config")
    assert result.returncode == 0, result.stderr

    def gone() -> bool:
        try:
            sagemaker.describe_endpoint(EndpointName=deployed)
        except ClientError as exc:
            if "Could not find endpoint" in str(exc):
                return True
            raise
        return False

    wait_until(gone, "the endpoint to be deleted")
