"""``tandem endpoints``, ``tandem invoke``, ``tandem delete``."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from .client import ApiError
from .common import client, console, fail, fmt_time, url_option

__all__ = ["endpoints", "invoke", "delete"]


@click.command("endpoints")
@url_option
def endpoints(url: str) -> None:
    """List endpoints with their status and variants."""
    api = client(url)
    try:
        names = []
        token = None
        while True:
            body = {"MaxResults": 100, "SortBy": "Name", "SortOrder": "Ascending"}
            if token:
                body["NextToken"] = token
            page = api.call("sagemaker", "ListEndpoints", body)
            names += [e["EndpointName"] for e in page["Endpoints"]]
            token = page.get("NextToken")
            if not token:
                break
        table = Table()
        for column in ("endpoint", "status", "config", "variants (instances)", "created"):
            table.add_column(column)
        for name in names:
            d = api.call("sagemaker", "DescribeEndpoint", {"EndpointName": name})
            variants = ", ".join(
                f"{v['VariantName']} "
                f"({v.get('CurrentInstanceCount', 0)}/{v.get('DesiredInstanceCount', 0)})"
                for v in d.get("ProductionVariants", [])
            )
            table.add_row(
                name,
                d["EndpointStatus"],
                d.get("EndpointConfigName", ""),
                variants,
                fmt_time(d.get("CreationTime")),
            )
    except ApiError as exc:
        fail(exc)
    console.print(table)


@click.command("invoke")
@click.argument("endpoint")
@click.option("--body", default=None, help="Request body text.")
@click.option(
    "--file",
    type=click.Path(path_type=Path),
    default=None,
    help="Read the body from a file ('-': stdin).",
)
@click.option("--content-type", default="application/json", show_default=True)
@click.option("--accept", default=None)
@click.option("--target-variant", default=None)
@click.option("--target-container", default=None)
@url_option
def invoke(
    endpoint: str,
    body: str | None,
    file: Path | None,
    content_type: str,
    accept: str | None,
    target_variant: str | None,
    target_container: str | None,
    url: str,
) -> None:
    """Invoke an endpoint as InvokeEndpoint does; prints the response body."""
    if (body is None) == (file is None):
        fail("give exactly one of --body and --file")
    if file is not None:
        data = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
    else:
        data = (body or "").encode()
    try:
        response = client(url).invoke(
            endpoint,
            data,
            content_type=content_type,
            accept=accept,
            target_variant=target_variant,
            target_container=target_container,
        )
    except ApiError as exc:
        fail(exc)
    console.print(f"[dim]variant {response.variant}, {response.content_type}[/dim]", style=None)
    sys.stdout.write(response.body.decode("utf-8", "replace") + "\n")


@click.command("delete")
@click.argument("endpoint")
@click.option("--config/--no-config", default=False, help="Also delete its endpoint config.")
@url_option
def delete(endpoint: str, config: bool, url: str) -> None:
    """Delete an endpoint (its instances stop; its logs and metrics stay)."""
    api = client(url)
    try:
        desc = api.call("sagemaker", "DescribeEndpoint", {"EndpointName": endpoint})
        api.call("sagemaker", "DeleteEndpoint", {"EndpointName": endpoint})
        console.print(f"deleting endpoint [bold]{endpoint}[/bold]")
        if config:
            api.call(
                "sagemaker",
                "DeleteEndpointConfig",
                {"EndpointConfigName": desc["EndpointConfigName"]},
            )
            console.print(f"deleted endpoint config [bold]{desc['EndpointConfigName']}[/bold]")
    except ApiError as exc:
        fail(exc)
