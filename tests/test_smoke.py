import sqlalchemy as sa

import river_core
from river_core.identifiers import validate_schema


def test_package_imports() -> None:
    assert river_core.JobState("available") is river_core.JobState.AVAILABLE


def test_database_reachable(sync_engine: sa.Engine) -> None:
    with sync_engine.connect() as conn:
        assert conn.exec_driver_sql("select 1").scalar() == 1


def test_schema_validation() -> None:
    assert validate_schema("my_schema") == "my_schema"
