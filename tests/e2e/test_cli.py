"""The `tandem` command against a real server, over HTTP, as a user types it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from tests.e2e.support import STAGE, wait_status

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


def test_logs_tail_follow_shows_new_lines(server, deployed) -> None:  # type: ignore[no-untyped-def]
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
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        time.sleep(1.5)
        tandem(server, "invoke", deployed, "--body", json.dumps({"print": 5}))
        deadline = time.monotonic() + 15
        line = ""
        while time.monotonic() < deadline and "tail: line 4" not in line:
            line = follower.stdout.readline()  # type: ignore[union-attr]
        assert "tail: line 4" in line
    finally:
        follower.terminate()
        follower.communicate(timeout=10)


def test_metrics_commands(server, deployed) -> None:  # type: ignore[no-untyped-def]
    for _ in range(3):
        tandem(server, "invoke", deployed, "--body", '{"instances": [1]}')
    time.sleep(1.0)  # one flush interval of the test server
    listed = tandem(
        server, "metrics", "list", "--namespace", "AWS/SageMaker", "-d", f"EndpointName={deployed}"
    ).stdout
    assert "ContainerLatency" in listed and "ModelLatency" in listed
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
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            wait_status(sagemaker, deployed, "Deleting", timeout=0.1)
        except Exception as exc:  # noqa: BLE001 - the endpoint is gone
            if "Could not find endpoint" in str(exc):
                return
        time.sleep(0.2)
    raise AssertionError("endpoint not deleted")
