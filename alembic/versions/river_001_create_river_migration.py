"""River main migration 001: create_river_migration.

UP_SQL and DOWN_SQL are River's PostgreSQL migration files, unmodified (riverqueue/river,
MPL-2.0), riverdriver/riverpgxv5/migration/main/
001_create_river_migration.{up,down}.sql
"""

from river_core.migrate import apply_river_version

revision = "river_001"
down_revision = None
branch_labels = None
depends_on = None

UP_SQL = """\
CREATE TABLE /* TEMPLATE: schema */river_migration(
  id bigserial PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT NOW(),
  version bigint NOT NULL,
  CONSTRAINT version CHECK (version >= 1)
);

CREATE UNIQUE INDEX ON /* TEMPLATE: schema */river_migration USING btree(version);"""

DOWN_SQL = """\
DROP TABLE /* TEMPLATE: schema */river_migration;"""


def upgrade() -> None:
    apply_river_version(1, UP_SQL, up=True)


def downgrade() -> None:
    apply_river_version(1, DOWN_SQL, up=False)
