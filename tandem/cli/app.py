"""The ``tandem`` command: one module per noun, each talking to the server over HTTP."""

from __future__ import annotations

import click

from . import alarms, deploy, endpoints, jobs, logs, metrics, scaling
from .serve import serve_command

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="tandem")
def cli() -> None:
    """Multi-container inference pipelines with SageMaker/CloudWatch telemetry."""


cli.add_command(serve_command)
cli.add_command(deploy.deploy)
cli.add_command(endpoints.endpoints)
cli.add_command(endpoints.invoke)
cli.add_command(endpoints.delete)
cli.add_command(logs.logs)
cli.add_command(metrics.metrics)
cli.add_command(alarms.alarms)
cli.add_command(scaling.scaling)
cli.add_command(jobs.train)
cli.add_command(jobs.transform)
cli.add_command(jobs.notebook)


def main() -> None:
    cli()
