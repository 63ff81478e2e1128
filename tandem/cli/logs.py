"""``tandem logs groups|streams|get|filter|tail``."""

from __future__ import annotations

import click

__all__ = ["logs"]


@click.group("logs")
def logs() -> None:
    """CloudWatch Logs: groups, streams, events, filters, live tail."""
