"""psycopg 3 driver for river_core (sync Engine and AsyncEngine)."""

from river_driver_psycopg.driver import PsycopgDriver, PsycopgExecutor, engine_kwargs_for_pgbouncer
from river_driver_psycopg.listener import PsycopgListener

__all__ = ["PsycopgDriver", "PsycopgExecutor", "PsycopgListener", "engine_kwargs_for_pgbouncer"]
