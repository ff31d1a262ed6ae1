"""River main migration 003: river_job_tags_non_null.

UP_SQL and DOWN_SQL are River's PostgreSQL migration files, unmodified (riverqueue/river,
MPL-2.0), riverdriver/riverpgxv5/migration/main/
003_river_job_tags_non_null.{up,down}.sql
"""

from river_core.migrate import apply_river_version

revision = "river_003"
down_revision = "river_002"
branch_labels = None
depends_on = None

UP_SQL = """\
ALTER TABLE /* TEMPLATE: schema */river_job ALTER COLUMN tags SET DEFAULT '{}';
UPDATE /* TEMPLATE: schema */river_job SET tags = '{}' WHERE tags IS NULL;
ALTER TABLE /* TEMPLATE: schema */river_job ALTER COLUMN tags SET NOT NULL;
"""

DOWN_SQL = """\
ALTER TABLE /* TEMPLATE: schema */river_job
    ALTER COLUMN tags DROP NOT NULL,
    ALTER COLUMN tags DROP DEFAULT;
"""


def upgrade() -> None:
    apply_river_version(3, UP_SQL, up=True)


def downgrade() -> None:
    apply_river_version(3, DOWN_SQL, up=False)
