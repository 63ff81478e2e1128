"""Helpers of the shipping tests: a server taking only signed requests, a shipper's config for
it, and boto3 clients that read what arrived."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tandem.telemetry.shipping import ShipperConfig
from tests.server_process import FAST_FLAGS

ACCESS_KEY = "AKIDSHIPPER"
SECRET_KEY = "shipper-secret"


def auth_flags(tmp_path: Path) -> tuple[str, ...]:
    keys = tmp_path / "keys.toml"
    keys.write_text(
        f'[[keys]]\naccess_key_id = "{ACCESS_KEY}"\nsecret_access_key = "{SECRET_KEY}"\n'
    )
    return (*FAST_FLAGS, "--auth", str(keys))


def shipper_config(url: str, tmp_path: Path, **overrides: Any) -> ShipperConfig:
    settings: dict[str, Any] = {
        "access_key_id": ACCESS_KEY,
        "secret_access_key": SECRET_KEY,
        "backoff_initial": 0.05,
        "backoff_max": 0.5,
        "metrics_flush_interval": 0.2,
        "request_timeout": 5.0,
    }
    settings.update(overrides)
    return ShipperConfig(url, tmp_path / "spool", **settings)


def client(url: str, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=60),
    )


def stream_messages(logs: Any, group: str, stream: str) -> list[str]:
    """Every message of a stream, oldest first (GetLogEvents from the head to the end)."""
    messages: list[str] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream,
                              "startFromHead": True}
    while True:
        page = logs.get_log_events(**kwargs)
        messages.extend(e["message"] for e in page["events"])
        if not page["events"]:
            return messages
        kwargs["nextToken"] = page["nextForwardToken"]
