"""Options and output shared by the CLI's nouns."""

from __future__ import annotations

import datetime as dt
from typing import Any, NoReturn

import click
from rich.console import Console

from .client import DEFAULT_URL, ApiError, Client

__all__ = ["url_option", "console", "err_console", "fail", "client", "fmt_time"]

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def url_option(func: Any) -> Any:
    return click.option(
        "--url",
        envvar="TANDEM_URL",
        default=DEFAULT_URL,
        show_default=True,
        help="The tandem server to talk to.",
    )(func)


def client(url: str) -> Client:
    return Client(url or DEFAULT_URL)


def fail(error: ApiError | str) -> NoReturn:
    text = f"{error.code}: {error.message}" if isinstance(error, ApiError) else error
    err_console.print(f"[red]error:[/red] {text}", markup=True, soft_wrap=True)
    raise SystemExit(1)


def fmt_time(epoch_seconds: float | None) -> str:
    if epoch_seconds is None:
        return "-"
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
