"""``tandem metrics list|get``."""

from __future__ import annotations

import click

__all__ = ["metrics"]


@click.group("metrics")
def metrics() -> None:
    """CloudWatch metrics: list series, statistics over time."""
