"""The AWS CLI (v1, as installed) unchanged against a real server with --endpoint-url."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.support import stage_container
from tests.server_process import ServerProcess
from tests.tools import AWS_CLI, requires

pytestmark = [pytest.mark.slow, requires(AWS_CLI)]

AWS = str(Path(sys.executable).with_name("aws"))


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-cli")).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def aws(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("aws-home")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
    }

    def run(*args: str, check: bool = True) -> Any:
        done = subprocess.run(
            [AWS, "--endpoint-url", server.url, "--output", "json", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            cwd=home,
        )
        if check:
            assert done.returncode == 0, done.stderr
            return json.loads(done.stdout) if done.stdout.strip() else None
        return done

    run.home = home  # type: ignore[attr-defined]
    return run


def test_cli_deploys_invokes_and_reads_the_logs(aws) -> None:  # type: ignore[no-untyped-def]
    container = json.dumps([stage_container("cli-stage")])
    model = aws("sagemaker", "create-model", "--model-name", "cli-model", "--containers", container)
    assert model["ModelArn"] == "arn:aws:sagemaker:us-east-1:000000000000:model/cli-model"
    aws(
        "sagemaker",
        "create-endpoint-config",
        "--endpoint-config-name",
        "cli-config",
        "--production-variants",
        json.dumps(
            [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "cli-model",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ]
        ),
    )
    created = aws(
        "sagemaker",
        "create-endpoint",
        "--endpoint-name",
        "cli-endpoint",
        "--endpoint-config-name",
        "cli-config",
    )
    assert created["EndpointArn"].endswith(":endpoint/cli-endpoint")
    deadline = time.monotonic() + 60
    while (
        aws("sagemaker", "describe-endpoint", "--endpoint-name", "cli-endpoint")["EndpointStatus"]
        != "InService"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.5)

    out = aws.home / "out.json"
    meta = aws(
        "sagemaker-runtime",
        "invoke-endpoint",
        "--endpoint-name",
        "cli-endpoint",
        "--body",
        '{"instances": [1, 2]}',
        "--content-type",
        "application/json",
        str(out),
    )
    assert meta["ContentType"] == "application/json"
    assert meta["InvokedProductionVariant"] == "AllTraffic"
    assert json.loads(out.read_text())["instances"] == [2, 3]

    group = "/aws/sagemaker/Endpoints/cli-endpoint"
    deadline = time.monotonic() + 20
    while True:
        found = aws(
            "logs",
            "filter-log-events",
            "--log-group-name",
            group,
            "--filter-pattern",
            '"listening on"',
        )
        if found["events"] or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    (event,) = found["events"]
    assert event["message"].startswith("cli-stage: listening on ")
    assert event["logStreamName"].startswith("AllTraffic/")
    page = aws(
        "logs",
        "get-log-events",
        "--log-group-name",
        group,
        "--log-stream-name",
        event["logStreamName"],
        "--start-from-head",
    )
    assert event["message"] in [e["message"] for e in page["events"]]
    assert page["nextForwardToken"] and page["nextBackwardToken"]


def test_cli_reports_aws_errors(aws) -> None:  # type: ignore[no-untyped-def]
    done = aws("sagemaker", "describe-endpoint", "--endpoint-name", "missing", check=False)
    assert done.returncode == 255  # CLI v1: a service error
    assert (
        "An error occurred (ValidationException) when calling the DescribeEndpoint "
        'operation: Could not find endpoint "arn:aws:sagemaker:us-east-1:000000000000:'
        'endpoint/missing".'
    ) in done.stderr
    done = aws(
        "logs", "get-log-events", "--log-group-name", "/none", "--log-stream-name", "s", check=False
    )
    assert "(ResourceNotFoundException)" in done.stderr


def test_cli_tags_a_model_and_a_log_group(aws) -> None:  # type: ignore[no-untyped-def]
    container = json.dumps(stage_container("cli-tagged"))
    arn = aws("sagemaker", "create-model", "--model-name", "cli-tagged", "--primary-container",
              container, "--tags", "Key=team,Value=ml")["ModelArn"]  # fmt: skip
    aws("sagemaker", "add-tags", "--resource-arn", arn, "--tags", "Key=env,Value=test")
    assert aws("sagemaker", "list-tags", "--resource-arn", arn)["Tags"] == [
        {"Key": "team", "Value": "ml"}, {"Key": "env", "Value": "test"},
    ]  # fmt: skip
    aws("sagemaker", "delete-tags", "--resource-arn", arn, "--tag-keys", "team")
    assert aws("sagemaker", "list-tags", "--resource-arn", arn)["Tags"] == [
        {"Key": "env", "Value": "test"}
    ]

    aws("logs", "create-log-group", "--log-group-name", "/cli/tagged", "--tags", "team=ml")
    group_arn = "arn:aws:logs:us-east-1:000000000000:log-group:/cli/tagged"
    aws("logs", "tag-resource", "--resource-arn", group_arn, "--tags", "env=test")
    listed = aws("logs", "list-tags-for-resource", "--resource-arn", group_arn)
    assert listed["tags"] == {"team": "ml", "env": "test"}
    aws("logs", "untag-log-group", "--log-group-name", "/cli/tagged", "--tags", "team")
    assert aws("logs", "list-tags-log-group", "--log-group-name", "/cli/tagged")["tags"] == {
        "env": "test"
    }
    refused = aws("logs", "list-tags-for-resource", "--resource-arn", group_arn + ":*",
                  check=False)  # fmt: skip
    assert refused.returncode != 0 and "InvalidParameterException" in refused.stderr
