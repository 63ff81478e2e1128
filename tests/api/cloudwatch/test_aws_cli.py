"""The AWS CLI (v1, which speaks awsJson1_0 to CloudWatch) against a real tandem."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools import AWS_CLI, requires

from .support import ServerThread, cloudwatch_client, eventually, unique_namespace

AWS = Path(sys.executable).parent / "aws"
pytestmark = [pytest.mark.slow, requires(AWS_CLI)]


def _aws(server: ServerThread, *args: str) -> dict:  # type: ignore[type-arg]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_MAX_ATTEMPTS": "1",
    }
    done = subprocess.run(
        [str(AWS), "--endpoint-url", server.url, "--output", "json", "cloudwatch", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout or "{}")


def test_cli_list_metrics_and_get_metric_statistics(server: ServerThread) -> None:
    ns = unique_namespace("Cli")
    minute = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=10)).replace(second=0, microsecond=0)
    cw = cloudwatch_client(server.url, "json")
    cw.put_metric_data(
        Namespace=ns,
        MetricData=[
            {
                "MetricName": "Latency",
                "Values": [1, 10],
                "Counts": [2, 4],
                "Timestamp": minute,
                "Unit": "Milliseconds",
                "Dimensions": [{"Name": "EndpointName", "Value": "e1"}],
            }
        ],
    )
    eventually(lambda: cw.list_metrics(Namespace=ns)["Metrics"], bool)
    listed = _aws(server, "list-metrics", "--namespace", ns, "--dimensions", "Name=EndpointName")
    assert listed["Metrics"] == [
        {
            "Namespace": ns,
            "MetricName": "Latency",
            "Dimensions": [{"Name": "EndpointName", "Value": "e1"}],
        }
    ]
    stats = _aws(
        server,
        "get-metric-statistics",
        "--namespace",
        ns,
        "--metric-name",
        "Latency",
        "--dimensions",
        "Name=EndpointName,Value=e1",
        "--period",
        "60",
        "--statistics",
        "SampleCount",
        "Sum",
        "Maximum",
        "--start-time",
        (minute - dt.timedelta(minutes=5)).isoformat(),
        "--end-time",
        (minute + dt.timedelta(minutes=5)).isoformat(),
    )
    assert stats["Label"] == "Latency"
    [point] = stats["Datapoints"]
    assert (point["SampleCount"], point["Sum"], point["Maximum"], point["Unit"]) == (
        6.0,
        42.0,
        10.0,
        "Milliseconds",
    )
    # CLI v1 prints timestamps as they came (cli_timestamp_format "none": epoch seconds).
    assert point["Timestamp"] == minute.timestamp()
