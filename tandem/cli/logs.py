"""``tandem logs groups|streams|get|filter|tail``."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(help="CloudWatch Logs: groups, streams, events, filters, live tail.",
                  no_args_is_help=True)
