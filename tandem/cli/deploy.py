"""``tandem deploy FILE.yaml [--wait]``: models, endpoint configs and endpoints from a YAML file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
from rich.live import Live
from rich.table import Table

from ..errors import ConfigError
from ..serving.deployment import load_deployment
from .client import ApiError, Client
from .common import client, console, fail, url_option

__all__ = ["deploy"]

_TERMINAL = {"InService", "Failed"}


@click.command("deploy")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--wait", is_flag=True, help="Show progress until InService or Failed.")
@click.option("--timeout", default=900.0, show_default=True, help="Seconds to wait with --wait.")
@url_option
def deploy(file: Path, wait: bool, timeout: float, url: str) -> None:
    """Create the models, endpoint configs and endpoints FILE (YAML mirroring SageMaker's API)
    describes."""
    try:
        deployment = load_deployment(file)
    except ConfigError as exc:
        fail(exc.message)
    api = client(url)
    try:
        for model in deployment.models:
            _create(api, "CreateModel", model, "model", model["ModelName"])
        for config in deployment.endpoint_configs:
            _create(
                api, "CreateEndpointConfig", config, "endpoint config", config["EndpointConfigName"]
            )
        for endpoint in deployment.endpoints:
            _create(api, "CreateEndpoint", endpoint, "endpoint", endpoint["EndpointName"])
    except ApiError as exc:
        fail(exc)
    if wait and deployment.endpoints:
        names = [e["EndpointName"] for e in deployment.endpoints]
        statuses = _wait(api, names, timeout)
        failed = [n for n, s in statuses.items() if s.get("EndpointStatus") != "InService"]
        if failed:
            for name in failed:
                reason = statuses[name].get("FailureReason", statuses[name].get("EndpointStatus"))
                console.print(f"[red]{name}[/red]: {reason}", soft_wrap=True)
            raise SystemExit(1)


def _create(api: Client, operation: str, body: dict[str, Any], kind: str, name: str) -> None:
    try:
        api.call("sagemaker", operation, body)
        console.print(f"created {kind} [bold]{name}[/bold]")
    except ApiError as exc:
        if exc.code == "ValidationException" and "already existing" in exc.message:
            console.print(f"{kind} [bold]{name}[/bold] exists")
            return
        raise


def _table(statuses: dict[str, dict[str, Any]], started: float) -> Table:
    table = Table(title=f"deploying ({time.monotonic() - started:.0f} s)")
    for column in ("endpoint", "status", "instances"):
        table.add_column(column)
    for name, desc in statuses.items():
        variants = desc.get("ProductionVariants", [])
        counts = (
            ", ".join(
                f"{v['VariantName']} "
                f"{v.get('CurrentInstanceCount', 0)}/{v.get('DesiredInstanceCount', 0)}"
                for v in variants
            )
            or "-"
        )
        status = desc.get("EndpointStatus", "?")
        colour = {"InService": "green", "Failed": "red"}.get(status, "yellow")
        table.add_row(name, f"[{colour}]{status}[/{colour}]", counts)
    return table


def _wait(api: Client, names: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    started = time.monotonic()
    statuses: dict[str, dict[str, Any]] = {n: {} for n in names}
    with Live(_table(statuses, started), console=console, refresh_per_second=4) as live:
        while True:
            for name in names:
                try:
                    statuses[name] = api.call(
                        "sagemaker", "DescribeEndpoint", {"EndpointName": name}
                    )
                except ApiError as exc:
                    statuses[name] = {"EndpointStatus": "Failed", "FailureReason": exc.message}
            live.update(_table(statuses, started))
            if all(s.get("EndpointStatus") in _TERMINAL for s in statuses.values()):
                return statuses
            if time.monotonic() - started > timeout:
                fail(f"timed out after {timeout:.0f} s waiting for {', '.join(names)}")
            time.sleep(0.5)
