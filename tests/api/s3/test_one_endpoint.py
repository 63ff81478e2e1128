"""One endpoint URL for everything: with only ``tandem env``'s exports, boto3's sagemaker,
sagemaker-runtime, cloudwatch, logs, s3 and sts clients and the AWS CLI reach tandem with no
endpoint_url anywhere in the code (and iam's is told AccessDenied: tandem has no IAM)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server_process import FAST_FLAGS, ServerProcess

pytestmark = pytest.mark.slow

AWS = str(Path(sys.executable).with_name("aws"))
TANDEM = str(Path(sys.executable).with_name("tandem"))

SCRIPT = textwrap.dedent(
    """
    import json, time, boto3
    from botocore.exceptions import ClientError
    out = {}
    out["sts"] = boto3.client("sts").get_caller_identity()["Account"]
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="one-url")
    s3.put_object(Bucket="one-url", Key="k", Body=b"v")
    out["s3"] = s3.get_object(Bucket="one-url", Key="k")["Body"].read().decode()
    out["sagemaker"] = boto3.client("sagemaker").list_endpoints()["Endpoints"]
    try:
        boto3.client("sagemaker-runtime").invoke_endpoint(EndpointName="none", Body=b"x")
    except ClientError as e:
        out["runtime"] = e.response["Error"]["Code"]
    cw = boto3.client("cloudwatch")
    cw.put_metric_data(Namespace="OneUrl", MetricData=[{"MetricName": "m", "Value": 1.0}])
    for _ in range(100):  # the server flushes its minute buckets every 0.5 s
        out["cloudwatch"] = [m["MetricName"]
                             for m in cw.list_metrics(Namespace="OneUrl")["Metrics"]]
        if out["cloudwatch"]:
            break
        time.sleep(0.1)
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName="one-url")
    out["logs"] = [g["logGroupName"] for g in
                   logs.describe_log_groups(logGroupNamePrefix="one-url")["logGroups"]]
    # No IAM here: a role check (the SageMaker SDK 3.x makes one) is told AccessDenied.
    try:
        boto3.client("iam").simulate_principal_policy(
            PolicySourceArn="arn:aws:iam::123456789012:role/x", ActionNames=["s3:GetObject"])
    except ClientError as e:
        out["iam"] = [e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"],
                      e.response["Error"]["Message"]]
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("tandem-one-url"),
                         extra=[*FAST_FLAGS, "--account-id", "123456789012"]).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def env(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    printed = subprocess.run([TANDEM, "env", "--url", server.url], capture_output=True,
                             text=True, check=True, timeout=60).stdout
    variables = dict(
        line.removeprefix("export ").split("=", 1) for line in printed.splitlines()
    )
    assert variables["AWS_ENDPOINT_URL"] == server.url
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_MAX_ATTEMPTS": "1",
        "AWS_PAGER": "",
        **variables,
    }


def test_every_boto3_client_reaches_tandem_from_the_environment(env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {
        "sts": "123456789012",
        "s3": "v",
        "sagemaker": [],
        "runtime": "ValidationError",
        "cloudwatch": ["m"],
        "logs": ["one-url"],
        "iam": ["AccessDenied", 403, "tandem has no IAM, so it cannot perform "
                "iam:SimulatePrincipalPolicy; roles (RoleArn) are accepted as given and never "
                "checked here"],
    }


def test_the_aws_cli_reaches_tandem_from_the_environment(env: dict[str, str],
                                                         tmp_path: Path) -> None:
    def aws(*args: str) -> str:
        done = subprocess.run([AWS, *args], capture_output=True, text=True, env=env,
                              timeout=60, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        return done.stdout

    identity = json.loads(aws("sts", "get-caller-identity", "--output", "json"))
    assert identity["Account"] == "123456789012"
    assert identity["Arn"] == "arn:aws:iam::123456789012:root"
    aws("s3", "mb", "s3://cli-one-url")
    assert "cli-one-url" in aws("s3", "ls")
    assert json.loads(aws("sagemaker", "list-endpoints", "--output", "json"))["Endpoints"] == []
    aws("logs", "describe-log-groups")
    aws("cloudwatch", "list-metrics")
