"""River main migration 008: job_id_autoincrement.

River's 008 changes only SQLite (`river_job.id` becomes AUTOINCREMENT); on PostgreSQL its up and
down files are identical and change nothing. This revision records version 8 and nothing else.
"""

from river_core.migrate import apply_river_version

revision = "river_008"
down_revision = "river_007"
branch_labels = None
depends_on = None

UP_SQL = DOWN_SQL = ""


def upgrade() -> None:
    apply_river_version(8, UP_SQL, up=True)


def downgrade() -> None:
    apply_river_version(8, DOWN_SQL, up=False)
