"""The ``tandem`` command: one module per noun, each talking to the server over HTTP."""

from __future__ import annotations

import typer

from . import deploy, endpoints, logs, metrics
from .serve import serve_command

__all__ = ["app", "main"]

app = typer.Typer(
    name="tandem",
    help="Multi-container inference pipelines with SageMaker/CloudWatch telemetry.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
deploy.register(app)
endpoints.register(app)
app.add_typer(logs.app, name="logs")
app.add_typer(metrics.app, name="metrics")


def main() -> None:
    command = typer.main.get_command(app)
    command.add_command(serve_command)  # type: ignore[attr-defined]
    command()
