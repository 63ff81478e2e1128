"""examples/boto3_deploy.py as a user runs it: a real server, the trained wine pipeline, boto3
only (CreateModel ... waiter, InvokeEndpoint, GetMetricStatistics, FilterLogEvents)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from examples.wine_pipeline.train import train

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]


def test_boto3_example_deploys_invokes_and_reads_telemetry(server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    artifacts = tmp_path / "artifacts"
    train(artifacts)
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "boto3_deploy.py"),
            server.url,
            "--artifacts",
            str(artifacts),
            "--region",
            "eu-west-1",
            "--delete",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr + "".join(server.output[-40:])
    lines = done.stdout.splitlines()
    assert "model: arn:aws:sagemaker:eu-west-1:123456789012:model/wine-boto3" in lines
    assert "status: InService" in lines
    assert "predictions: ['class_0', 'class_1', 'class_2']" in lines
    invocations = next(line for line in lines if line.startswith("Invocations:"))
    assert float(invocations.split()[1]) >= 1.0
    assert any(line.startswith("log AllTraffic/") for line in lines)
    assert lines[-1] == "deleted"


def test_example_refuses_to_run_without_archives(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "examples" / "boto3_deploy.py"),
            "http://127.0.0.1:9",
            "--artifacts",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "python -m examples.wine_pipeline.train" in done.stderr
