"""Conformance: the rescue re-check and the reindexer's index operations."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

import pytest
from conformance import PAST, DriverHandle

from river_core.driver import Executor, JobRescueParams, JobSetStateIfRunningParams
from river_core.driver.params import JobSetStateReason
from river_core.driver.sql_executor import SqlExecutor
from river_core.errors import ValidationError
from river_core.job import JobState

T = TypeVar("T")

ERROR = json.dumps({"at": "2025-01-01T00:00:00Z", "attempt": 1, "error": "stuck"}).encode()
HORIZON = PAST + timedelta(seconds=1)


def _running(handle: DriverHandle, **fields: object) -> int:
    job = handle.insert()
    return handle.set_columns(job.id, state="running", attempt=1, attempted_at=PAST, **fields).id


def _rescue(job_id: int) -> JobRescueParams:
    return JobRescueParams(
        id=job_id, error=ERROR, state=JobState.RETRYABLE, scheduled_at=PAST + timedelta(days=1)
    )


def test_rescue_many_rechecks_running_and_horizon(handle: DriverHandle) -> None:
    """Only rows still `running` and attempted before the horizon are rescued: a job that
    completed, or ran again, after the rescuer read it keeps its state."""
    stuck = _running(handle)
    completed = _running(handle)
    rerun = _running(handle)
    handle.run(
        lambda ex: ex.job_set_state_if_running_many(
            [
                JobSetStateIfRunningParams(
                    id=completed,
                    state=JobState.COMPLETED,
                    reason=JobSetStateReason.COMPLETED,
                    finalized_at=PAST + timedelta(hours=1),
                )
            ]
        )
    )
    handle.set_columns(rerun, attempted_at=HORIZON + timedelta(seconds=1))

    rescued = handle.run(
        lambda ex: ex.job_rescue_many([_rescue(stuck), _rescue(completed), _rescue(rerun)], HORIZON)
    )

    assert rescued == 1
    rows = {
        j.id: j for j in handle.run(lambda ex: ex.job_get_by_id_many([stuck, completed, rerun]))
    }
    assert rows[stuck].state is JobState.RETRYABLE
    assert rows[stuck].metadata == {"river:rescue_count": 1}
    for untouched, state in ((completed, JobState.COMPLETED), (rerun, JobState.RUNNING)):
        assert rows[untouched].state is state
        assert rows[untouched].errors == []
        assert "river:rescue_count" not in rows[untouched].metadata


def _autocommit(handle: DriverHandle, fn: Callable[[Executor], T]) -> T:
    """Run `fn` on an autocommit connection (the driver's own, or the sync engine's)."""
    if not handle.driver.is_async:
        with handle.setup_engine.connect() as conn:
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            return fn(SqlExecutor(auto, handle.schema))

    async def run() -> T:
        async with handle.driver.async_autocommit() as ex:
            return await ex.run(fn)

    return handle.loop.run_until_complete(run())


def _invalid_artifact(handle: DriverHandle, name: str) -> None:
    """An invalid index, as an interrupted `REINDEX CONCURRENTLY` leaves one."""
    with handle.setup_engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE INDEX "{name}" ON "{handle.schema}".river_job (kind)')
        conn.exec_driver_sql(
            "UPDATE pg_index SET indisvalid = false WHERE indexrelid = "
            f'\'"{handle.schema}"."{name}"\'::regclass'
        )


def test_indexes_exist_in_the_schema_only(handle: DriverHandle) -> None:
    names = ["river_job_kind", "river_job_pkey", "no_such_index", "river_queue_pkey"]
    assert handle.run(lambda ex: ex.indexes_exist(names)) == {
        "river_job_kind": True,
        "river_job_pkey": True,
        "no_such_index": False,
        "river_queue_pkey": True,
    }
    assert handle.run(lambda ex: ex.indexes_exist([])) == {}


def test_reindex_artifacts_are_the_invalid_ccnew_and_ccold(handle: DriverHandle) -> None:
    for name in ("river_job_kind_ccnew", "river_job_kind_ccold2"):
        _invalid_artifact(handle, name)
    with handle.setup_engine.begin() as conn:  # valid, or not an artifact name: never listed
        conn.exec_driver_sql(
            f'CREATE INDEX river_job_kind_ccnew1 ON "{handle.schema}".river_job (id)'
        )
        conn.exec_driver_sql(f'CREATE INDEX river_job_kind_x ON "{handle.schema}".river_job (id)')
    try:
        assert handle.run(lambda ex: ex.index_reindex_artifacts("river_job_kind")) == [
            "river_job_kind_ccnew",
            "river_job_kind_ccold2",
        ]
        assert handle.run(lambda ex: ex.index_reindex_artifacts("river_job_args_index")) == []
        _autocommit(handle, lambda ex: ex.index_drop_if_exists("river_job_kind_ccnew"))
        _autocommit(handle, lambda ex: ex.index_drop_if_exists("river_job_kind_ccnew"))  # gone
        assert handle.run(lambda ex: ex.index_reindex_artifacts("river_job_kind")) == [
            "river_job_kind_ccold2"
        ]
    finally:
        with handle.setup_engine.begin() as conn:
            for name in ("river_job_kind_ccold2", "river_job_kind_ccnew1", "river_job_kind_x"):
                conn.exec_driver_sql(f'DROP INDEX IF EXISTS "{handle.schema}"."{name}"')


def test_reindex_concurrently_rebuilds_the_index(handle: DriverHandle) -> None:
    def relfilenode() -> int:
        with handle.setup_engine.connect() as conn:
            return int(
                conn.exec_driver_sql(
                    f"SELECT pg_relation_filenode('\"{handle.schema}\".river_job_kind')"
                ).scalar_one()
            )

    before = relfilenode()
    _autocommit(handle, lambda ex: ex.index_reindex("river_job_kind"))
    assert relfilenode() != before
    assert handle.run(lambda ex: ex.index_reindex_artifacts("river_job_kind")) == []


@pytest.mark.parametrize("name", ["River_job", "a; DROP TABLE river_job", "x" * 64, ""])
def test_index_ddl_refuses_unsafe_names(handle: DriverHandle, name: str) -> None:
    with pytest.raises(ValidationError, match="index"):
        _autocommit(handle, lambda ex: ex.index_reindex(name))
