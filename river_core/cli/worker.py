"""`river worker module:attribute`: run a client's workers until SIGTERM or SIGINT.

The first signal stops softly (no more fetching; running jobs finish, outcomes are written),
a second one stops hard (running jobs are cancelled and made available again). Exit code: 0
after a soft stop, 1 after a hard one or a failed start, 2 for a target that cannot be loaded.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
import sys

import click

from river_core.client import AsyncClient, Client
from river_core.sync_runtime import async_twin

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class TargetError(Exception):
    """The `module:attribute` target does not name a client."""


def load_client(target: str) -> Client | AsyncClient:
    """The client that `module.path:attribute` names."""
    module_name, _, attribute = target.partition(":")
    if not module_name or not attribute:
        raise TargetError(f"expected module.path:attribute, got {target!r}")
    if "" not in sys.path:
        sys.path.insert(0, "")  # like `python -m`: modules of the working directory
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        first_line = next(iter(str(exc).splitlines()), "")
        raise TargetError(
            f"cannot import {module_name!r}: {type(exc).__name__}: {first_line}"
        ) from None
    client = getattr(module, attribute, None)
    if not isinstance(client, Client | AsyncClient):
        found = "nothing" if client is None else type(client).__name__
        raise TargetError(f"{target} is {found}, not a river Client or AsyncClient")
    return client


async def run_until_signalled(client: Client | AsyncClient) -> int:
    """Start `client`'s workers and run until signalled; the exit code."""
    loop = asyncio.get_running_loop()
    signals = asyncio.Queue[int]()
    for sig in SIGNALS:
        loop.add_signal_handler(sig, signals.put_nowait, sig)
    twin, dispose = await async_twin(client)
    try:
        try:
            await twin.start()
        except Exception as exc:
            click.echo(f"river worker: cannot start: {exc}", err=True)
            return 1
        click.echo(f"river worker: started, working {', '.join(twin.config.queues)}", err=True)
        first = await signals.get()
        click.echo(f"river worker: {signal.Signals(first).name}: stopping softly", err=True)
        soft = asyncio.ensure_future(twin.stop())
        second = asyncio.ensure_future(signals.get())
        await asyncio.wait({soft, second}, return_when=asyncio.FIRST_COMPLETED)
        if soft.done():
            second.cancel()
            soft.result()
            click.echo("river worker: stopped", err=True)
            return 0
        name = signal.Signals(second.result()).name
        click.echo(f"river worker: {name}: stopping hard", err=True)
        await twin.stop_and_cancel()
        await soft
        click.echo("river worker: stopped (running jobs were cancelled)", err=True)
        return 1
    finally:
        await dispose()
        for sig in SIGNALS:
            loop.remove_signal_handler(sig)


@click.command(name="worker")
@click.argument("target")
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Level of the log records printed to stderr.",
)
def worker(target: str, log_level: str) -> None:
    """Work jobs with the client TARGET (module.path:attribute, a Client or AsyncClient).

    SIGTERM or SIGINT stops softly, a second one stops hard."""
    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        client = load_client(target)
    except TargetError as exc:
        click.echo(f"river worker: {exc}", err=True)
        sys.exit(2)
    sys.exit(asyncio.run(run_until_signalled(client)))
