"""Durations as people type them: ``90s``, ``15m``, ``2h``, ``7d``."""

from __future__ import annotations

import re

import click

__all__ = ["parse_since"]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SPEC = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def parse_since(text: str) -> float:
    """Seconds in a duration like ``15m``; a clear usage error otherwise."""
    match = _SPEC.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 90s, 15m, 2h or 7d")
    return float(match.group(1)) * _UNITS[match.group(2)]
