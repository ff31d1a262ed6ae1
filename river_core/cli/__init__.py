"""The `river` command: a click group that subcommand modules add themselves to."""

from __future__ import annotations

import click

from river_core.cli.bench import bench
from river_core.cli.demo import demo
from river_core.cli.migrate import migrate
from river_core.cli.ui import ui
from river_core.cli.worker import worker

__all__ = ["main"]


@click.group(name="river")
def main() -> None:
    """Command line facilities for the River job queue."""


main.add_command(migrate)
main.add_command(bench)
main.add_command(demo)
main.add_command(worker)
main.add_command(ui)
