"""``tandem metrics list|get``."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(help="CloudWatch metrics: list series, statistics over time.", no_args_is_help=True)
