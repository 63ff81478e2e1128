"""Helpers for tier-(c) tests: boto3 clients for a server, deploying test pipelines."""

from __future__ import annotations

import time
from pathlib import Path

import boto3
from botocore.config import Config

from tests.server_process import ServerProcess

STAGE = Path(__file__).resolve().parent.parent / "fixtures" / "stage"


def client(server: ServerProcess, service: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        service,
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=70),
    )


def stage_container(name: str, **env: str) -> dict:  # type: ignore[type-arg]
    return {
        "ContainerHostname": name,
        "Image": str(STAGE),
        "Environment": {"STAGE_NAME": name, **env},
    }


def deploy(
    sagemaker,
    name: str,
    containers: list[dict],
    *,
    instances: int = 1,  # type: ignore[no-untyped-def,type-arg]
    mode: str = "Serial",
    variants: list[dict] | None = None,
    wait: bool = True,
) -> None:  # type: ignore[type-arg]
    sagemaker.create_model(
        ModelName=name, Containers=containers, InferenceExecutionConfig={"Mode": mode}
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=variants
        or [
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": instances,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    if wait:
        wait_status(sagemaker, name, "InService")


def wait_status(sagemaker, name: str, status: str, timeout: float = 60.0) -> dict:  # type: ignore[no-untyped-def,type-arg]
    deadline = time.monotonic() + timeout
    while True:
        desc = sagemaker.describe_endpoint(EndpointName=name)
        if desc["EndpointStatus"] == status:
            return desc
        if desc["EndpointStatus"] == "Failed" and status != "Failed":
            raise AssertionError(f"{name} failed: {desc.get('FailureReason')}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} still {desc['EndpointStatus']} after {timeout} s")
        time.sleep(0.2)
