"""A real ``tandem serve`` per test module, with a non-default account and region so ARNs and
messages are seen to follow the settings."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.config import Config

from tests.server_process import FAST_FLAGS, ServerProcess

ACCOUNT, REGION = "123456789012", "eu-west-1"


def make_client(server: ServerProcess, service: str, **config: object):  # type: ignore[no-untyped-def]
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=70, **config),  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(
        tmp_path_factory.mktemp("tandem-sm"),
        extra=(*FAST_FLAGS, "--account-id", ACCOUNT, "--region", REGION),
    ).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def sagemaker(server: ServerProcess):  # type: ignore[no-untyped-def]
    return make_client(server, "sagemaker")


@pytest.fixture(scope="module")
def runtime(server: ServerProcess):  # type: ignore[no-untyped-def]
    return make_client(server, "sagemaker-runtime")


@pytest.fixture(scope="module")
def logs(server: ServerProcess):  # type: ignore[no-untyped-def]
    return make_client(server, "logs")
