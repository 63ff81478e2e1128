"""``tandem serve``: every API on one port, in the foreground, until SIGINT/SIGTERM.

Its options are generated from ``tandem.config.SETTINGS`` (declared once).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Any

import click

from .. import eventloop
from ..config import SETTINGS, load_settings
from ..errors import ConfigError, StoreUnavailable

__all__ = ["serve_command"]


def _options(func: Any) -> Any:
    for setting in reversed(SETTINGS):
        flags = (setting.flag, setting.alias) if setting.alias else (setting.flag,)
        func = click.option(
            *flags,
            setting.name,
            default=None,
            help=setting.help,
            show_envvar=True,
            metavar=setting.name.upper(),
        )(func)
    return func


@click.command("serve")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (TOML).",
)
@click.option(
    "--log-level",
    default="INFO",
    show_default=True,
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"]),
)
@_options
def serve_command(config_file: Path | None, log_level: str, **flags: Any) -> None:
    """Serve every API (SageMaker, runtime, CloudWatch, Logs) on one port until interrupted."""
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = load_settings(config_file, flags)
    except ConfigError as exc:
        raise click.ClickException(exc.message) from None
    try:
        eventloop.run(_serve(settings))
    except StoreUnavailable as exc:
        raise click.ClickException(exc.message) from None


async def _serve(settings: Any) -> None:
    from ..server import TandemServer

    server = TandemServer(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # A standby (another server leads the shared store) waits here, until it leads or is
    # told to stop.
    leading = asyncio.create_task(server.lead())
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({leading, stopping}, return_when=asyncio.FIRST_COMPLETED)
    if not leading.done():
        leading.cancel()
        await asyncio.gather(leading, return_exceptions=True)
        await server.resign()
        return
    leading.result()  # its error, if it failed (an unreachable store)
    await server.start()
    click.echo(f"tandem serving on {server.url} (data in {settings.data_dir})", err=True)
    lost = asyncio.create_task(server.lost_leadership.wait())
    await asyncio.wait({stopping, lost}, return_when=asyncio.FIRST_COMPLETED)
    deposed = server.lost_leadership.is_set() and not stop.is_set()
    click.echo("tandem: stopping: another server leads the store now" if deposed else
               "tandem: stopping", err=True)
    stopping.cancel()
    lost.cancel()
    await server.stop()
    if deposed:
        raise SystemExit(75)  # EX_TEMPFAIL: a supervisor restarts it, as a standby
