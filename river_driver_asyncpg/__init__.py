"""asyncpg driver for river_core (AsyncEngine)."""

from river_driver_asyncpg.driver import AsyncpgDriver, AsyncpgExecutor, engine_kwargs_for_pgbouncer
from river_driver_asyncpg.listener import AsyncpgListener

__all__ = ["AsyncpgDriver", "AsyncpgExecutor", "AsyncpgListener", "engine_kwargs_for_pgbouncer"]
