"""asyncpg driver for river_core (AsyncEngine)."""
