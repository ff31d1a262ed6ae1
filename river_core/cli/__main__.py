"""`python -m river_core.cli`."""

from river_core.cli import main

main(prog_name="river")
