"""psycopg 3 driver for river_core (sync Engine and AsyncEngine)."""
