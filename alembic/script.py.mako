"""River main migration ${up_revision[len("river_"):]}: ${message}.

UP_SQL and DOWN_SQL are River's PostgreSQL migration files, unmodified (riverqueue/river,
MPL-2.0), riverdriver/riverpgxv5/migration/main/
${up_revision[len("river_"):]}_${message}.{up,down}.sql
"""

from river_core.migrate import apply_river_version

revision = "${up_revision}"
down_revision = "${down_revision}"
branch_labels = None
depends_on = None

UP_SQL = ""  # the .up.sql file's text, exactly

DOWN_SQL = ""  # the .down.sql file's text, exactly


def upgrade() -> None:
    apply_river_version(${int(up_revision[len("river_"):])}, UP_SQL, up=True)


def downgrade() -> None:
    apply_river_version(${int(up_revision[len("river_"):])}, DOWN_SQL, up=False)
