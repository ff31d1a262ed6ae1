"""The one SQLAlchemy Core implementation of the Executor, shared by every driver.

Each method ports the semantics of River's query of the same name
(`riverdriver/riverpgxv5/internal/dbsqlc/*.sql`) to Core constructs. Tables are defined with
`schema=None` and every statement runs with `schema_translate_map={None: schema}`; the only other
place the schema appears is as a package name of River's `river_job_state_in_bitmask` function
and as a bound value in NOTIFY channels. Values are always bound.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import ReturningInsert
from sqlalchemy.sql.elements import ClauseElement

from river_core.driver.interface import TOPIC_CONTROL, TOPIC_INSERT, TOPIC_LEADERSHIP, Executor
from river_core.driver.params import (
    JobCancelParams,
    JobCountByQueueAndStateResult,
    JobDeleteBeforeParams,
    JobGetAvailableParams,
    JobGetStuckParams,
    JobInsertParams,
    JobInsertResult,
    JobKindListParams,
    JobListOrderBy,
    JobListParams,
    JobRescueParams,
    JobScheduleParams,
    JobScheduleResult,
    JobSetStateIfRunningParams,
    JobUpdateParams,
    Leader,
    LeaderElectParams,
    LeaderReelectParams,
    LeaderResignParams,
    Queue,
    QueueCreateOrSetUpdatedAtParams,
    QueueNameListParams,
    QueueUpdateParams,
)
from river_core.driver.tables import (
    JOB_STATE,
    RIVER_TABLES,
    TIMESTAMPTZ,
    pg_attribute,
    pg_class,
    pg_index,
    pg_namespace,
    pg_stats,
    river_job,
    river_leader,
    river_migration,
    river_queue,
)
from river_core.errors import JobRunningError, ValidationError
from river_core.gojson import format_time
from river_core.identifiers import validate_schema
from river_core.job import FINAL_STATES, AttemptError, JobRow, JobState

_TEXT_ARRAY = pg.ARRAY(sa.Text)


class _RawTextArray(sa.types.UserDefinedType[list[str]]):
    """A `text[]` read as the DBAPI returns it (a list of str): SQLAlchemy's ARRAY result
    processing walks every element in Python, a measurable cost on the fetch path."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return "TEXT[]"


_RAW_ARRAY = _RawTextArray()
_FINAL = sorted(state.value for state in FINAL_STATES)
_MIGRATION_LINE_MAIN = "main"
_ALL_QUEUES = "*"
# Statements built once per (name, schema): see `SqlExecutor._statement`.
_STATEMENTS: dict[tuple[str, str | None], sa.Executable] = {}
_STATEMENTS_MAX = 512

_j = river_job.c


class _Truncate(sa.sql.expression.Executable, ClauseElement):
    """`TRUNCATE TABLE t1, t2`: Core has no construct for it; names go through the preparer."""

    inherit_cache = False

    def __init__(self, tables: Sequence[sa.Table]) -> None:
        self.tables = tables


@compiles(_Truncate)
def _compile_truncate(element: _Truncate, compiler: SQLCompiler, **kw: Any) -> str:
    return "TRUNCATE TABLE " + ", ".join(
        compiler.preparer.format_table(table) for table in element.tables
    )


_INDEX_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}", re.ASCII)


class _IndexDdl(sa.sql.expression.Executable, ClauseElement):
    """`REINDEX INDEX CONCURRENTLY` / `DROP INDEX CONCURRENTLY IF EXISTS` of one index.

    DDL on an index named at run time: Core has no construct for it and identifiers cannot be
    bound, so the names are validated (lowercase identifiers) and quoted by the preparer.
    """

    inherit_cache = False

    def __init__(self, command: str, schema: str | None, name: str) -> None:
        if not _INDEX_NAME.fullmatch(name):
            raise ValidationError("index", f"not a lowercase identifier: {name!r}")
        self.command = command
        self.schema = schema
        self.name = name


@compiles(_IndexDdl)
def _compile_index_ddl(element: _IndexDdl, compiler: SQLCompiler, **kw: Any) -> str:
    preparer = compiler.preparer
    name = preparer.quote_identifier(element.name)
    if element.schema is not None:
        name = preparer.quote_identifier(element.schema) + "." + name
    return f"{element.command} {name}"


# -- value helpers -------------------------------------------------------------------------


def _bind(value: Any, type_: Any) -> sa.BindParameter[Any]:
    return sa.bindparam(None, value, type_=type_)


def _now_or(now: datetime | None) -> ColumnElement[datetime]:
    """River's `coalesce(sqlc.narg('now')::timestamptz, now())`."""
    return sa.func.coalesce(_bind(now, TIMESTAMPTZ), sa.func.now(), type_=TIMESTAMPTZ)


def _jsonb(text: str | None) -> ColumnElement[Any]:
    """A bound JSON text, as `jsonb`."""
    return sa.cast(_bind(text, sa.Text), pg.JSONB)


def _unnest(values: Sequence[Any], element_type: Any) -> ColumnElement[Any]:
    """`unnest(:values::<type>[])`, typed as its elements."""
    return sa.func.unnest(_bind(list(values), pg.ARRAY(element_type)), type_=element_type)


def _unnest_jsonb(texts: Sequence[str | None]) -> ColumnElement[Any]:
    """`unnest(:texts::text[]::jsonb[])`: JSON passed as text so every DBAPI binds it alike."""
    return sa.func.unnest(
        sa.cast(_bind(list(texts), _TEXT_ARRAY), pg.ARRAY(pg.JSONB)), type_=pg.JSONB
    )


def _unnest_states(states: Iterable[JobState]) -> ColumnElement[Any]:
    """River's `unnest(@state::text[])::river_job_state`."""
    return sa.cast(_unnest([state.value for state in states], sa.Text), JOB_STATE)


def _unnest_param(name: str, element_type: Any) -> ColumnElement[Any]:
    """`unnest(:name::<type>[])`, the array bound by name at execution."""
    return sa.func.unnest(sa.bindparam(name, type_=pg.ARRAY(element_type)), type_=element_type)


def _unnest_jsonb_param(name: str) -> ColumnElement[Any]:
    """`unnest(:name::text[]::jsonb[])`, JSON texts bound by name at execution."""
    return sa.func.unnest(
        sa.cast(sa.bindparam(name, type_=_TEXT_ARRAY), pg.ARRAY(pg.JSONB)), type_=pg.JSONB
    )


def _state(state: JobState) -> ColumnElement[Any]:
    return sa.cast(_bind(state.value, sa.Text), JOB_STATE)


def _states(states: Iterable[JobState | str]) -> ColumnElement[Any]:
    return sa.cast(_bind([JobState(s).value for s in states], _TEXT_ARRAY), pg.ARRAY(JOB_STATE))


def _text(value: str) -> ColumnElement[str]:
    return _bind(value, sa.Text)


def _one_of(column: Any, values: Sequence[Any], type_: Any) -> ColumnElement[bool]:
    """`column = ANY(:values)`, or `column = :value` for one value: an index then still
    returns rows in its order (PostgreSQL sorts after an `= ANY` on an index column)."""
    if len(values) == 1:
        return column == _bind(values[0], type_)  # type: ignore[no-any-return]
    return column == sa.any_(_bind(list(values), pg.ARRAY(type_)))  # type: ignore[no-any-return]


def _count_limited(
    where: ColumnElement[bool], limit: int, correlate: Any = None
) -> ColumnElement[int]:
    """`(SELECT count(*) FROM (SELECT FROM river_job WHERE ... LIMIT n))`: reads at most `n`
    rows; `correlate` names an outer FROM element `where` refers to."""
    limited = sa.select(sa.literal(1)).select_from(river_job).where(where).limit(limit)
    if correlate is not None:
        limited = limited.correlate(correlate)
    return sa.select(sa.func.count()).select_from(limited.subquery()).scalar_subquery()


# -- row mapping ---------------------------------------------------------------------------


def _job_columns(c: Any) -> list[ColumnElement[Any]]:
    """The columns of a river_job row, JSON as text and the bitmask as an int, in row order."""
    return [
        c.id,
        sa.cast(c.args, sa.Text).label("args"),
        c.attempt,
        c.attempted_at,
        sa.type_coerce(c.attempted_by, _RAW_ARRAY).label("attempted_by"),
        c.created_at,
        sa.type_coerce(sa.cast(c.errors, _TEXT_ARRAY), _RAW_ARRAY).label("errors"),
        c.finalized_at,
        c.kind,
        c.max_attempts,
        sa.cast(c.metadata, sa.Text).label("metadata"),
        c.priority,
        c.queue,
        c.state,
        c.scheduled_at,
        sa.type_coerce(c.tags, _RAW_ARRAY).label("tags"),
        c.unique_key,
        sa.cast(c.unique_states, sa.Integer).label("unique_states"),
    ]


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


def _attempt_error(text: str) -> AttemptError:
    data = json.loads(text)
    return AttemptError(
        at=_utc(datetime.fromisoformat(data["at"])),
        attempt=int(data.get("attempt", 0)),
        error=data.get("error", ""),
        trace=data.get("trace", ""),
    )


def _job_row(row: Sequence[Any]) -> JobRow:
    """Map the leading `_job_columns` of a result row to a JobRow."""
    (
        id_,
        args,
        attempt,
        attempted_at,
        attempted_by,
        created_at,
        errors,
        finalized_at,
        kind,
        max_attempts,
        metadata,
        priority,
        queue,
        state,
        scheduled_at,
        tags,
        unique_key,
        unique_states,
    ) = row[:18]
    return JobRow(
        id=id_,
        kind=kind,
        args=json.loads(args),
        state=JobState(state),
        queue=queue,
        priority=priority,
        attempt=attempt,
        max_attempts=max_attempts,
        created_at=_utc(created_at),
        scheduled_at=_utc(scheduled_at),
        attempted_at=_utc_or_none(attempted_at),
        attempted_by=list(attempted_by or ()),
        errors=[_attempt_error(e) for e in errors or ()],
        finalized_at=_utc_or_none(finalized_at),
        metadata=json.loads(metadata),
        tags=list(tags),
        unique_key=None if unique_key is None else bytes(unique_key),
        unique_states=unique_states,
        encoded_args=args.encode(),
    )


def _leader_columns(c: Any) -> list[ColumnElement[Any]]:
    return [c.leader_id, c.elected_at, c.expires_at]


def _leader(row: Sequence[Any] | None) -> Leader | None:
    if row is None:
        return None
    return Leader(leader_id=row[0], elected_at=_utc(row[1]), expires_at=_utc(row[2]))


_QUEUE_COLUMNS: list[ColumnElement[Any]] = [
    river_queue.c.name,
    river_queue.c.created_at,
    river_queue.c.updated_at,
    river_queue.c.paused_at,
    sa.cast(river_queue.c.metadata, sa.Text).label("metadata"),
]


def _queue(row: Sequence[Any]) -> Queue:
    return Queue(
        name=row[0],
        created_at=_utc(row[1]),
        updated_at=_utc(row[2]),
        paused_at=_utc_or_none(row[3]),
        metadata=json.loads(row[4]),
    )


_ORDER_COLUMNS = {
    JobListOrderBy.ID: "id",
    JobListOrderBy.SCHEDULED_AT: "scheduled_at",
    JobListOrderBy.FINALIZED_AT: "finalized_at",
    JobListOrderBy.CREATED_AT: "created_at",
    JobListOrderBy.ATTEMPTED_AT: "attempted_at",
}
# The columns of the fetch index after `state`, in its order.
_FETCH_ORDER_COLUMNS = ("queue", "priority", "scheduled_at")


class SqlExecutor(Executor):
    """River's operations on one SQLAlchemy `Connection`, inside its current transaction."""

    def __init__(self, conn: sa.Connection, schema: str | None) -> None:
        self.conn = conn
        self.schema = validate_schema(schema)  # it also names a function: never unchecked
        self._options: dict[str, Any] = (
            {"schema_translate_map": {None: schema}} if schema is not None else {}
        )

    # -- plumbing --------------------------------------------------------------------------
    def _execute(self, stmt: sa.Executable) -> sa.CursorResult[*tuple[Any, ...]]:
        return self.conn.execute(stmt, execution_options=self._options)

    def _jobs(self, stmt: sa.Executable) -> list[JobRow]:
        return [_job_row(row) for row in self._execute(stmt)]

    def _job(self, stmt: sa.Executable) -> JobRow | None:
        row = self._execute(stmt).first()
        return None if row is None else _job_row(row)

    def _in_bitmask(self, bitmask: Any, state: Any) -> ColumnElement[bool]:
        """River's `<schema>.river_job_state_in_bitmask(bitmask, state)`."""
        packages = (self.schema,) if self.schema is not None else ()
        return sa.Function(
            "river_job_state_in_bitmask", bitmask, state, packagenames=packages, type_=sa.Boolean
        )

    def _unique_index_where(self) -> ColumnElement[bool]:
        """The predicate of `river_job_unique_idx`, for ON CONFLICT inference."""
        return sa.and_(
            _j.unique_key.is_not(None),
            _j.unique_states.is_not(None),
            self._in_bitmask(_j.unique_states, _j.state),
        )

    def _channel(self, topic: str) -> ColumnElement[str]:
        """River's `concat(coalesce(@schema, current_schema()), '.', @topic)`."""
        return sa.func.concat(
            sa.func.coalesce(_bind(self.schema, sa.Text), sa.func.current_schema()),
            _text("." + topic),
        )

    @staticmethod
    def _unchanged_or_modified(job_id: int, modified: sa.CTE) -> sa.CompoundSelect[Any]:
        """The row of `job_id` from `modified` if the CTE touched it, else as it is."""
        untouched = sa.select(*_job_columns(_j)).where(
            _j.id == job_id, _j.id.not_in(sa.select(modified.c.id))
        )
        return sa.union_all(untouched, sa.select(*_job_columns(modified.c)))

    # -- jobs: insert ----------------------------------------------------------------------
    def _statement(self, name: str, build: Callable[[], sa.Executable]) -> sa.Executable:
        """The statement `name` of this schema, built once: its values are bound by name at
        execution, so SQLAlchemy neither rebuilds nor re-keys it (the insert hot path)."""
        key = (name, self.schema)
        stmt = _STATEMENTS.get(key)
        if stmt is None:
            if len(_STATEMENTS) >= _STATEMENTS_MAX:
                _STATEMENTS.clear()
            stmt = _STATEMENTS[key] = build()
        return stmt

    def _insert_source(self) -> sa.Select[Any]:
        """River's `raw_job_data`: the jobs bound as one array per column (`_insert_values`)."""
        raw = sa.select(
            _unnest_jsonb_param("args").label("args"),
            _unnest_param("created_at", TIMESTAMPTZ).label("created_at"),
            _unnest_param("kind", sa.Text).label("kind"),
            _unnest_param("max_attempts", sa.SmallInteger).label("max_attempts"),
            _unnest_jsonb_param("metadata").label("metadata"),
            _unnest_param("priority", sa.SmallInteger).label("priority"),
            _unnest_param("queue", sa.Text).label("queue"),
            _unnest_param("scheduled_at", TIMESTAMPTZ).label("scheduled_at"),
            sa.cast(_unnest_param("state", sa.Text), JOB_STATE).label("state"),
            _unnest_param("tags", sa.Text).label("tags"),
            _unnest_param("unique_key", pg.BYTEA).label("unique_key"),
            _unnest_param("unique_states", sa.Integer).label("unique_states"),
        ).subquery("raw_job_data")
        r = raw.c
        return sa.select(
            r.args,
            sa.func.coalesce(r.created_at, sa.func.now()),
            r.kind,
            r.max_attempts,
            sa.func.coalesce(r.metadata, _jsonb("{}")),
            r.priority,
            r.queue,
            sa.func.coalesce(r.scheduled_at, sa.func.now()),
            r.state,
            sa.cast(sa.func.string_to_array(r.tags, _text(",")), pg.ARRAY(sa.VARCHAR(255))),
            r.unique_key,
            sa.cast(r.unique_states, pg.BIT(8)),
        )

    @staticmethod
    def _insert_values(jobs: Sequence[JobInsertParams]) -> dict[str, list[Any]]:
        """The arrays `_insert_source` binds (JSON as text: every DBAPI binds it alike)."""
        return {
            "args": [job.encoded_args.decode() for job in jobs],
            "created_at": [job.created_at for job in jobs],
            "kind": [job.kind for job in jobs],
            "max_attempts": [job.max_attempts for job in jobs],
            "metadata": [job.metadata.decode() for job in jobs],
            "priority": [job.priority for job in jobs],
            "queue": [job.queue for job in jobs],
            "scheduled_at": [job.scheduled_at for job in jobs],
            "state": [job.state.value for job in jobs],
            "tags": [",".join(job.tags) for job in jobs],
            "unique_key": [job.unique_key or None for job in jobs],
            "unique_states": [job.unique_states or None for job in jobs],
        }

    _INSERT_COLUMNS = (
        "args",
        "created_at",
        "kind",
        "max_attempts",
        "metadata",
        "priority",
        "queue",
        "scheduled_at",
        "state",
        "tags",
        "unique_key",
        "unique_states",
    )

    def _build_insert_returning(self) -> ReturningInsert[Any]:
        insert = pg.insert(river_job).from_select(self._INSERT_COLUMNS, self._insert_source())
        return insert.on_conflict_do_update(
            index_elements=[_j.unique_key],
            index_where=self._unique_index_where(),
            # Something must be updated for RETURNING to return the conflicting row.
            set_={"kind": insert.excluded.kind},
        ).returning(
            *_job_columns(_j),
            # River's trick: xmax is set only on a row that was updated, i.e. a duplicate.
            (sa.cast(sa.column("xmax"), sa.Text) != _text("0")).label("skipped"),
        )

    def _build_insert_notify(self) -> sa.Executable:
        inserted = self._build_insert_returning().cte("inserted")
        i = inserted.c
        queues = (
            sa.select(i.queue)
            .where(i.state == _state(JobState.AVAILABLE), sa.not_(i.skipped))
            .distinct()
            .subquery("new_available_queues")
        )
        # River's payload as Go writes it: `{"queue":"<name>"}`.
        payload = sa.func.concat(
            _text('{"queue":'), sa.cast(sa.func.to_json(queues.c.queue), sa.Text), _text("}")
        )
        notified = sa.select(
            sa.func.count(sa.func.pg_notify(self._channel(TOPIC_INSERT), payload))
        ).scalar_subquery()
        return sa.select(*inserted.c, notified.label("notified"))

    def _insert_returning(self) -> sa.Executable:
        return self._statement("insert_returning", self._build_insert_returning)

    def _insert_results(
        self, stmt: sa.Executable, jobs: Sequence[JobInsertParams]
    ) -> list[JobInsertResult]:
        rows = self.conn.execute(stmt, self._insert_values(jobs), execution_options=self._options)
        return [
            JobInsertResult(job=_job_row(row), unique_skipped_as_duplicated=bool(row[18]))
            for row in rows
        ]

    def job_insert_fast_many(self, jobs: Sequence[JobInsertParams]) -> list[JobInsertResult]:
        if not jobs:
            return []
        return self._insert_results(self._insert_returning(), jobs)

    def job_insert_fast_many_notify(self, jobs: Sequence[JobInsertParams]) -> list[JobInsertResult]:
        if not jobs:
            return []
        stmt = self._statement("insert_notify", self._build_insert_notify)
        return self._insert_results(stmt, jobs)

    def _build_insert_no_returning(self) -> sa.Executable:
        return (
            pg.insert(river_job)
            .from_select(self._INSERT_COLUMNS, self._insert_source())
            .on_conflict_do_nothing(
                index_elements=[_j.unique_key], index_where=self._unique_index_where()
            )
            .execution_options(preserve_rowcount=True)  # SQLAlchemy keeps it for DML only
        )

    def job_insert_fast_many_no_returning(self, jobs: Sequence[JobInsertParams]) -> int:
        if not jobs:
            return 0
        stmt = self._statement("insert_no_returning", self._build_insert_no_returning)
        result = self.conn.execute(stmt, self._insert_values(jobs), execution_options=self._options)
        return result.rowcount

    # -- jobs: work ------------------------------------------------------------------------
    def job_get_available(self, params: JobGetAvailableParams) -> list[JobRow]:
        stmt = self._statement("get_available", self._build_get_available)
        values = {
            "p_now": params.now,
            "p_queue": params.queue,
            "p_max_to_lock": params.max_to_lock,
            "p_max_attempted_by": params.max_attempted_by,
            "p_client_id": params.client_id,
        }
        jobs = [
            _job_row(row)
            for row in self.conn.execute(stmt, values, execution_options=self._options)
        ]
        jobs.sort(key=lambda job: (job.priority, job.scheduled_at, job.id))
        return jobs

    @staticmethod
    def _build_get_available() -> sa.Executable:
        now = sa.func.coalesce(sa.bindparam("p_now", type_=TIMESTAMPTZ), sa.func.now())
        locked = (
            sa.select(_j.id)
            .where(
                _j.state == _state(JobState.AVAILABLE),
                _j.queue == sa.bindparam("p_queue", type_=sa.Text),
                _j.scheduled_at <= now,
            )
            .order_by(_j.priority, _j.scheduled_at, _j.id)
            .limit(sa.bindparam("p_max_to_lock", type_=sa.Integer))
            .with_for_update(skip_locked=True)
            .cte("locked_jobs")
        )
        length = sa.func.array_length(_j.attempted_by, 1, type_=sa.Integer)
        max_attempted_by = sa.bindparam("p_max_attempted_by", type_=sa.Integer)
        attempted_by = sa.func.array_append(
            sa.case(
                # Keep the newest max_attempted_by - 1 entries (arrays index from 1).
                (
                    length >= max_attempted_by,
                    _j.attempted_by[length + 2 - max_attempted_by : length],
                ),
                else_=_j.attempted_by,
            ),
            sa.bindparam("p_client_id", type_=sa.Text),
            type_=_TEXT_ARRAY,
        )
        return (
            sa.update(river_job)
            .values(
                state=_state(JobState.RUNNING),
                attempt=_j.attempt + 1,
                attempted_at=now,
                attempted_by=attempted_by,
            )
            .where(_j.id == locked.c.id)
            .returning(*_job_columns(_j))
        )

    def job_set_state_if_running_many(
        self,
        outcomes: Sequence[JobSetStateIfRunningParams],
        now: datetime | None = None,
        *,
        returning: bool = True,
    ) -> list[JobRow]:
        if not outcomes:
            return []
        values = {
            "p_id": [o.id for o in outcomes],
            "p_attempt_do_update": [o.attempt is not None for o in outcomes],
            "p_attempt": [o.attempt or 0 for o in outcomes],
            "p_errors_do_update": [o.error is not None for o in outcomes],
            "p_errors": [None if o.error is None else o.error.decode() for o in outcomes],
            "p_finalized_at_do_update": [o.finalized_at is not None for o in outcomes],
            "p_finalized_at": [o.finalized_at for o in outcomes],
            "p_metadata_do_merge": [o.metadata_updates is not None for o in outcomes],
            "p_metadata_updates": [(o.metadata_updates or b"{}").decode() for o in outcomes],
            "p_scheduled_at_do_update": [o.scheduled_at is not None for o in outcomes],
            "p_scheduled_at": [o.scheduled_at for o in outcomes],
            "p_state": [o.state.value for o in outcomes],
            "p_now": now,
        }
        if not returning:
            stmt = self._statement("set_state", lambda: self._build_set_state(returning=False))
            self.conn.execute(stmt, values, execution_options=self._options)
            return []
        stmt = self._statement("set_state_returning", lambda: self._build_set_state(returning=True))
        return [
            _job_row(row)
            for row in self.conn.execute(stmt, values, execution_options=self._options)
        ]

    @staticmethod
    def _build_set_state(*, returning: bool) -> sa.Executable:
        """River's JobSetStateIfRunningMany over arrays bound by name (one row per outcome)."""
        job_input = sa.select(
            _unnest_param("p_id", sa.BigInteger).label("id"),
            _unnest_param("p_attempt_do_update", sa.Boolean).label("attempt_do_update"),
            _unnest_param("p_attempt", sa.Integer).label("attempt"),
            _unnest_param("p_errors_do_update", sa.Boolean).label("errors_do_update"),
            _unnest_jsonb_param("p_errors").label("errors"),
            _unnest_param("p_finalized_at_do_update", sa.Boolean).label("finalized_at_do_update"),
            _unnest_param("p_finalized_at", TIMESTAMPTZ).label("finalized_at"),
            _unnest_param("p_metadata_do_merge", sa.Boolean).label("metadata_do_merge"),
            _unnest_jsonb_param("p_metadata_updates").label("metadata_updates"),
            _unnest_param("p_scheduled_at_do_update", sa.Boolean).label("scheduled_at_do_update"),
            _unnest_param("p_scheduled_at", TIMESTAMPTZ).label("scheduled_at"),
            sa.cast(_unnest_param("p_state", sa.Text), JOB_STATE).label("state"),
        ).cte("job_input")
        ji = job_input.c
        now = sa.func.coalesce(sa.bindparam("p_now", type_=TIMESTAMPTZ), sa.func.now())
        running = _j.state == _state(JobState.RUNNING)
        # A retry of a job whose cancellation was requested while it ran becomes cancelled.
        cancel_instead = sa.and_(
            ji.state.in_([_state(JobState.RETRYABLE), _state(JobState.SCHEDULED)]),
            _j.metadata.has_key(_text("cancel_attempted_at")),
        )
        update = (
            sa.update(river_job)
            .values(
                attempt=sa.case(
                    (sa.and_(running, sa.not_(cancel_instead), ji.attempt_do_update), ji.attempt),
                    else_=_j.attempt,
                ),
                errors=sa.case(
                    (
                        sa.and_(running, ji.errors_do_update),
                        sa.func.array_append(_j.errors, ji.errors, type_=_j.errors.type),
                    ),
                    else_=_j.errors,
                ),
                finalized_at=sa.case(
                    (sa.and_(running, cancel_instead), now),
                    (sa.and_(running, ji.finalized_at_do_update), ji.finalized_at),
                    else_=_j.finalized_at,
                ),
                metadata=sa.case(
                    (ji.metadata_do_merge, _j.metadata.op("||")(ji.metadata_updates)),
                    else_=_j.metadata,
                ),
                scheduled_at=sa.case(
                    (
                        sa.and_(running, sa.not_(cancel_instead), ji.scheduled_at_do_update),
                        ji.scheduled_at,
                    ),
                    else_=_j.scheduled_at,
                ),
                state=sa.case(
                    (sa.and_(running, cancel_instead), _state(JobState.CANCELLED)),
                    (running, ji.state),
                    else_=_j.state,
                ),
            )
            .where(_j.id == ji.id, sa.or_(running, ji.metadata_do_merge))
        )
        if not returning:
            return update
        updated = update.returning(*river_job.c).cte("updated")
        untouched = (
            sa.select(*_job_columns(_j))
            .join_from(river_job, job_input, _j.id == ji.id)
            .where(~sa.exists().where(updated.c.id == _j.id))
        )
        stmt = sa.union_all(untouched, sa.select(*_job_columns(updated.c)))
        return stmt.order_by(stmt.selected_columns.id)

    # -- jobs: read ------------------------------------------------------------------------
    def job_get_by_id(self, job_id: int) -> JobRow | None:
        return self._job(sa.select(*_job_columns(_j)).where(_j.id == job_id))

    def job_get_by_id_many(self, ids: Sequence[int]) -> list[JobRow]:
        ids_bound = _bind(list(ids), pg.ARRAY(sa.BigInteger))
        return self._jobs(
            sa.select(*_job_columns(_j)).where(_j.id == sa.any_(ids_bound)).order_by(_j.id)
        )

    def job_get_by_kind_many(self, kinds: Sequence[str]) -> list[JobRow]:
        kinds_bound = _bind(list(kinds), _TEXT_ARRAY)
        return self._jobs(
            sa.select(*_job_columns(_j)).where(_j.kind == sa.any_(kinds_bound)).order_by(_j.id)
        )

    @staticmethod
    def _list_where(c: Any, params: JobListParams) -> list[ColumnElement[bool]]:
        """JobListParams filters (and its keyset cursor) on the columns `c`, all bound."""
        where: list[ColumnElement[bool]] = []
        if params.ids is not None:
            where.append(_one_of(c.id, params.ids, sa.BigInteger))
        if params.kinds is not None:
            where.append(_one_of(c.kind, params.kinds, sa.Text))
        if params.queues is not None:
            where.append(_one_of(c.queue, params.queues, sa.Text))
        if params.states is not None:
            if len(params.states) == 1:
                where.append(c.state == _state(JobState(params.states[0])))
            else:
                where.append(c.state == sa.any_(_states(params.states)))
        if params.priorities is not None:
            where.append(_one_of(c.priority, params.priorities, sa.SmallInteger))
        if params.tags is not None:
            tags = sa.cast(_bind(list(params.tags), _TEXT_ARRAY), pg.ARRAY(sa.VARCHAR(255)))
            where.append(c.tags.overlap(tags))
        if params.metadata is not None:
            where.append(c.metadata.contains(_jsonb(json.dumps(params.metadata))))
        if params.order_by is JobListOrderBy.FINALIZED_AT and params.states is not None:
            if set(params.states) <= FINAL_STATES:  # implied: lets the partial index serve
                where.append(c.finalized_at.is_not(None))
        if params.after is not None:
            value, after_id = params.after
            id_after = c.id < after_id if params.descending else c.id > after_id
            if params.order_by is JobListOrderBy.ID:
                where.append(id_after)
            elif params.order_by is JobListOrderBy.QUEUE_PRIORITY_SCHEDULED_AT:
                columns = [c[name] for name in (*_FETCH_ORDER_COLUMNS, "id")]
                values = (*value, after_id)
                row = sa.tuple_(*columns)
                after = sa.tuple_(*(_bind(v, k.type) for v, k in zip(values, columns, strict=True)))
                where.append(row < after if params.descending else row > after)
            else:
                column = c[_ORDER_COLUMNS[params.order_by]]
                cursor = _bind(value, column.type)
                beyond = column < cursor if params.descending else column > cursor
                # The redundant bound is an index condition; the OR alone is only a filter.
                bound = column <= cursor if params.descending else column >= cursor
                where.append(sa.and_(bound, sa.or_(beyond, sa.and_(column == cursor, id_after))))
        return where

    @staticmethod
    def _list_order(c: Any, params: JobListParams) -> list[ColumnElement[Any]]:
        columns = [c.id]
        if params.order_by is JobListOrderBy.QUEUE_PRIORITY_SCHEDULED_AT:
            columns[:0] = [c[name] for name in _FETCH_ORDER_COLUMNS]
        elif params.order_by is not JobListOrderBy.ID:
            columns.insert(0, c[_ORDER_COLUMNS[params.order_by]])
        return [col.desc() if params.descending else col.asc() for col in columns]

    def job_list(self, params: JobListParams) -> list[JobRow]:
        stmt = (
            sa.select(*_job_columns(_j))
            .where(*self._list_where(_j, params))
            .order_by(*self._list_order(_j, params))
            .limit(params.max)
        )
        return self._jobs(stmt)

    def job_get_stuck(self, params: JobGetStuckParams) -> list[JobRow]:
        stmt = (
            sa.select(*_job_columns(_j))
            .where(
                _j.state == _state(JobState.RUNNING),
                _j.id > params.after_id,
                _j.attempted_at < _bind(params.stuck_horizon, TIMESTAMPTZ),
            )
            .order_by(_j.id)
            .limit(params.max)
        )
        return self._jobs(stmt)

    def job_count_by_state(self, state: JobState) -> int:
        stmt = sa.select(sa.func.count()).select_from(river_job).where(_j.state == _state(state))
        return int(self._execute(stmt).scalar_one())

    def job_count_by_all_states(self, limit: int | None = None) -> dict[JobState, int]:
        counts = dict.fromkeys(JobState, 0)
        stmt: sa.Select[Any] | sa.CompoundSelect[Any]
        if limit is None:
            stmt = sa.select(_j.state, sa.func.count()).group_by(_j.state)
        else:
            stmt = sa.union_all(
                *(
                    sa.select(_text(state.value), _count_limited(_j.state == _state(state), limit))
                    for state in JobState
                )
            )
        for row in self._execute(stmt):
            counts[JobState(row[0])] = int(row[1])
        return counts

    def job_count_by_queue_and_state(
        self, queue_names: Sequence[str], limit: int | None = None
    ) -> list[JobCountByQueueAndStateResult]:
        names = sorted(set(queue_names))
        queues = (
            sa.func.unnest(_bind(names, _TEXT_ARRAY))
            .table_valued(sa.column("queue", sa.Text))
            .render_derived("queues")
        )

        def count(state: JobState) -> ColumnElement[int]:
            where = sa.and_(_j.state == _state(state), _j.queue == queues.c.queue)
            if limit is None:
                return sa.select(sa.func.count()).where(where).scalar_subquery()
            return _count_limited(where, limit, correlate=queues)

        stmt = sa.select(queues.c.queue, count(JobState.AVAILABLE), count(JobState.RUNNING))
        return [
            JobCountByQueueAndStateResult(
                queue=row[0], count_available=int(row[1]), count_running=int(row[2])
            )
            for row in self._execute(stmt.order_by(queues.c.queue))
        ]

    def job_count_estimate_by_state(self) -> dict[JobState, int]:
        pages_now = sa.func.pg_relation_size(pg_class.c.oid) / sa.cast(
            sa.func.current_setting(_text("block_size")), sa.BigInteger
        )
        stats = sa.and_(
            pg_stats.c.schemaname == pg_namespace.c.nspname,
            pg_stats.c.tablename == pg_class.c.relname,
            pg_stats.c.attname == _text("state"),
            sa.not_(pg_stats.c.inherited),
        )
        stmt = (
            sa.select(
                pg_class.c.reltuples,
                pg_class.c.relpages,
                pages_now,
                sa.cast(sa.cast(pg_stats.c.most_common_vals, sa.Text), _TEXT_ARRAY),
                pg_stats.c.most_common_freqs,
            )
            .join(pg_namespace, pg_namespace.c.oid == pg_class.c.relnamespace)
            .outerjoin(pg_stats, stats)
            .where(
                self._index_schema(),
                pg_class.c.relname == _text("river_job"),
                pg_class.c.relkind == _text("r"),
            )
        )
        row = self._execute(stmt).first()
        if row is None or row[0] < 0 or row[3] is None:  # reltuples -1: never analyzed
            return {}
        reltuples, relpages, pages = float(row[0]), int(row[1]), float(row[2])
        rows = reltuples / relpages * pages if relpages > 0 else reltuples  # the planner's scaling
        return {
            JobState(value): round(rows * freq) for value, freq in zip(row[3], row[4], strict=True)
        }

    def job_kind_list(self, params: JobKindListParams) -> list[str]:
        # A skip scan of the kind index: one probe per distinct kind, not one row per job.
        first = sa.select(_j.kind).where(_j.kind > _text(params.after)).order_by(_j.kind).limit(1)
        kinds = sa.select(first.subquery().c.kind).cte("kinds", recursive=True)
        following = (
            sa.select(_j.kind).where(_j.kind > kinds.c.kind).order_by(_j.kind).limit(1)
        ).scalar_subquery()
        kinds = kinds.union_all(sa.select(following).where(kinds.c.kind.is_not(None)))
        stmt = (
            sa.select(kinds.c.kind)
            .where(kinds.c.kind.is_not(None))
            .order_by(kinds.c.kind)
            .limit(params.max)
        )
        if params.match:
            stmt = stmt.where(
                kinds.c.kind.ilike(sa.func.concat(_text("%"), _text(params.match), _text("%")))
            )
        if params.exclude:
            stmt = stmt.where(kinds.c.kind != sa.all_(_bind(list(params.exclude), _TEXT_ARRAY)))
        return list(self._execute(stmt).scalars())

    # -- jobs: admin -----------------------------------------------------------------------
    def job_cancel(self, params: JobCancelParams) -> JobRow | None:
        locked = (
            sa.select(_j.id, _j.queue, _j.state, _j.finalized_at)
            .where(_j.id == params.id)
            .with_for_update()
            .cte("locked_job")
        )
        payload = sa.cast(
            sa.func.json_build_object(
                _text("action"),
                _text("cancel"),
                _text("job_id"),
                locked.c.id,
                _text("queue"),
                locked.c.queue,
            ),
            sa.Text,
        )
        notification = (
            sa.select(
                locked.c.id,
                sa.func.pg_notify(self._channel(TOPIC_CONTROL), payload).label("notified"),
            )
            .where(locked.c.state.not_in(_FINAL), locked.c.finalized_at.is_(None))
            .cte("notification")
        )
        running = _j.state == _state(JobState.RUNNING)
        updated = (
            sa.update(river_job)
            .values(
                # A running job is cancelled by its client, told by the notification.
                state=sa.case((running, _j.state), else_=_state(JobState.CANCELLED)),
                finalized_at=sa.case((running, _j.finalized_at), else_=_now_or(params.now)),
                # Tells the rescuer not to rescue it, even if it gets stuck as running.
                metadata=sa.func.jsonb_set(
                    _j.metadata,
                    _bind(["cancel_attempted_at"], _TEXT_ARRAY),
                    _jsonb(json.dumps(format_time(params.cancel_attempted_at))),
                    sa.true(),
                    type_=pg.JSONB,
                ),
            )
            .where(_j.id == notification.c.id)
            .returning(*river_job.c)
            .cte("updated_job")
        )
        return self._job(self._unchanged_or_modified(params.id, updated))

    def job_retry(self, job_id: int, now: datetime | None = None) -> JobRow | None:
        now_or = _now_or(now)
        locked = sa.select(_j.id).where(_j.id == job_id).with_for_update().cte("job_to_update")
        updated = (
            sa.update(river_job)
            .values(
                state=_state(JobState.AVAILABLE),
                max_attempts=sa.case(
                    (_j.attempt == _j.max_attempts, _j.max_attempts + 1), else_=_j.max_attempts
                ),
                finalized_at=None,
                scheduled_at=now_or,
            )
            .where(
                _j.id == locked.c.id,
                _j.state != _state(JobState.RUNNING),
                # An available job already due keeps its place in line.
                sa.not_(sa.and_(_j.state == _state(JobState.AVAILABLE), _j.scheduled_at < now_or)),
            )
            .returning(*river_job.c)
            .cte("updated_job")
        )
        return self._job(self._unchanged_or_modified(job_id, updated))

    def job_delete(self, job_id: int) -> JobRow | None:
        locked = sa.select(_j.id).where(_j.id == job_id).with_for_update().cte("job_to_delete")
        deleted = (
            sa.delete(river_job)
            .where(_j.id == locked.c.id, _j.state != _state(JobState.RUNNING))
            .returning(*river_job.c)
            .cte("deleted_job")
        )
        job = self._job(self._unchanged_or_modified(job_id, deleted))
        if job is not None and job.state is JobState.RUNNING:
            raise JobRunningError(job_id)
        return job

    def job_delete_many(self, params: JobListParams) -> list[JobRow]:
        to_delete = (
            sa.select(_j.id)
            .where(*self._list_where(_j, params), _j.state != _state(JobState.RUNNING))
            .order_by(*self._list_order(_j, params))
            .limit(params.max)
            .with_for_update(skip_locked=True)
            .cte("jobs_to_delete")
        )
        deleted = (
            sa.delete(river_job)
            .where(_j.id.in_(sa.select(to_delete.c.id)))
            .returning(*river_job.c)
            .cte("deleted_jobs")
        )
        return self._jobs(
            sa.select(*_job_columns(deleted.c)).order_by(*self._list_order(deleted.c, params))
        )

    def job_delete_before(self, params: JobDeleteBeforeParams) -> int:
        horizons = (
            (JobState.CANCELLED, params.cancelled_finalized_at_horizon),
            (JobState.COMPLETED, params.completed_finalized_at_horizon),
            (JobState.DISCARDED, params.discarded_finalized_at_horizon),
        )
        by_state = [
            sa.and_(_j.state == _state(state), _j.finalized_at < _bind(horizon, TIMESTAMPTZ))
            for state, horizon in horizons
            if horizon is not None
        ]
        if not by_state:
            return 0
        where = [sa.or_(*by_state)]
        if params.queues_excluded is not None:
            excluded = _bind(list(params.queues_excluded), _TEXT_ARRAY)
            where.append(sa.not_(_j.queue == sa.any_(excluded)))
        if params.queues_included is not None:
            where.append(_j.queue == sa.any_(_bind(list(params.queues_included), _TEXT_ARRAY)))
        doomed = sa.select(_j.id).where(*where).order_by(_j.id).limit(params.max)
        return self._execute(sa.delete(river_job).where(_j.id.in_(doomed))).rowcount

    def job_rescue_many(self, params: Sequence[JobRescueParams], stuck_horizon: datetime) -> int:
        if not params:
            return 0
        rescued = sa.select(
            _unnest([p.id for p in params], sa.BigInteger).label("id"),
            _unnest_jsonb([p.error.decode() for p in params]).label("error"),
            _unnest([p.finalized_at for p in params], TIMESTAMPTZ).label("finalized_at"),
            _unnest([p.scheduled_at for p in params], TIMESTAMPTZ).label("scheduled_at"),
            _unnest_states(p.state for p in params).label("state"),
        ).subquery("updated_job")
        r = rescued.c
        count = _j.metadata["river:rescue_count"]
        rescue_count = sa.case(
            (sa.func.jsonb_typeof(count) == _text("number"), sa.cast(count.astext, sa.Integer))
        )
        stmt = (
            sa.update(river_job)
            .values(
                errors=sa.func.array_append(_j.errors, r.error, type_=_j.errors.type),
                finalized_at=r.finalized_at,
                scheduled_at=r.scheduled_at,
                metadata=_j.metadata.op("||")(
                    sa.func.jsonb_build_object(
                        _text("river:rescue_count"),
                        sa.func.coalesce(rescue_count, 0) + 1,
                        type_=pg.JSONB,
                    )
                ),
                state=r.state,
            )
            .where(
                _j.id == r.id,
                # Re-checked at write time: a job that finished (or ran again) since the
                # rescuer read it keeps its state.
                _j.state == _state(JobState.RUNNING),
                _j.attempted_at < _bind(stuck_horizon, TIMESTAMPTZ),
            )
        )
        return self._execute(stmt).rowcount

    def job_schedule(self, params: JobScheduleParams) -> list[JobScheduleResult]:
        now = _now_or(params.now)
        to_schedule = (
            sa.select(_j.id, _j.unique_key, _j.unique_states, _j.priority, _j.scheduled_at)
            .where(
                _j.state.in_([_state(JobState.RETRYABLE), _state(JobState.SCHEDULED)]),
                _j.priority >= 0,
                _j.queue.is_not(None),
                _j.scheduled_at <= now,
            )
            .order_by(_j.priority, _j.scheduled_at, _j.id)
            .limit(params.max)
            .with_for_update()
            .cte("jobs_to_schedule")
        )
        ts = to_schedule.c
        with_rownum = sa.select(
            *ts,
            sa.case(
                (
                    sa.and_(ts.unique_key.is_not(None), ts.unique_states.is_not(None)),
                    sa.func.row_number().over(
                        partition_by=ts.unique_key, order_by=(ts.priority, ts.scheduled_at, ts.id)
                    ),
                ),
                else_=None,
            ).label("row_num"),
        ).cte("jobs_with_rownum")
        wr = with_rownum.c
        conflicts = (
            sa.select(_j.unique_key)
            .join_from(
                river_job, with_rownum, sa.and_(_j.unique_key == wr.unique_key, _j.id != wr.id)
            )
            .where(
                _j.unique_key.is_not(None),
                _j.unique_states.is_not(None),
                self._in_bitmask(_j.unique_states, _j.state),
            )
            .cte("unique_conflicts")
        )
        uc = conflicts.c
        # Only the first job of a unique key that no other live row holds is made available.
        discard = sa.and_(
            wr.row_num.is_not(None), sa.or_(uc.unique_key.is_not(None), wr.row_num > 1)
        )
        job_updates = (
            sa.select(
                wr.id,
                sa.case(
                    (discard, _state(JobState.DISCARDED)), else_=_state(JobState.AVAILABLE)
                ).label("new_state"),
                discard.label("discard"),
            )
            .select_from(with_rownum.outerjoin(conflicts, wr.unique_key == uc.unique_key))
            .cte("job_updates")
        )
        ju = job_updates.c
        conflict_metadata = _jsonb('{"unique_key_conflict": "scheduler_discarded"}')
        stmt = (
            sa.update(river_job)
            .values(
                state=ju.new_state,
                finalized_at=sa.case((ju.discard, now), else_=_j.finalized_at),
                metadata=sa.case(
                    (ju.discard, _j.metadata.op("||")(conflict_metadata)), else_=_j.metadata
                ),
            )
            .where(_j.id == ju.id)
            .returning(*_job_columns(_j), ju.discard)
        )
        results = [
            JobScheduleResult(job=_job_row(row), conflict_discarded=bool(row[-1]))
            for row in self._execute(stmt)
        ]
        results.sort(key=lambda r: (r.job.priority, r.job.scheduled_at, r.job.id))
        return results

    def job_update(self, params: JobUpdateParams) -> JobRow | None:
        locked = sa.select(_j.id).where(_j.id == params.id).with_for_update().cte("locked_job")
        metadata = _jsonb((params.metadata or b"{}").decode())
        stmt = (
            sa.update(river_job)
            .values(
                metadata=sa.case(
                    (_bind(params.metadata_do_merge, sa.Boolean), _j.metadata.op("||")(metadata)),
                    else_=_j.metadata,
                )
            )
            .where(_j.id == locked.c.id)
            .returning(*_job_columns(_j))
        )
        return self._job(stmt)

    # -- leader ----------------------------------------------------------------------------
    def leader_attempt_elect(self, params: LeaderElectParams) -> Leader | None:
        now = _now_or(params.now)
        stmt = (
            pg.insert(river_leader)
            .values(
                leader_id=params.leader_id,
                elected_at=now,
                expires_at=now + _bind(params.ttl, sa.Interval),
            )
            .on_conflict_do_nothing(index_elements=[river_leader.c.name])
            .returning(*_leader_columns(river_leader.c))
        )
        return _leader(self._execute(stmt).first())

    def leader_attempt_reelect(self, params: LeaderReelectParams) -> Leader | None:
        now = _now_or(params.now)
        c = river_leader.c
        stmt = (
            sa.update(river_leader)
            .values(expires_at=now + _bind(params.ttl, sa.Interval))
            .where(
                c.elected_at == _bind(params.elected_at, TIMESTAMPTZ),
                c.expires_at >= now,
                c.leader_id == params.leader_id,
            )
            .returning(*_leader_columns(c))
        )
        return _leader(self._execute(stmt).first())

    def leader_resign(self, params: LeaderResignParams) -> bool:
        c = river_leader.c
        held = (
            sa.select(c.leader_id)
            .where(
                c.elected_at == _bind(params.elected_at, TIMESTAMPTZ),
                c.leader_id == params.leader_id,
            )
            .with_for_update()
            .cte("currently_held_leaders")
        )
        payload = sa.cast(
            sa.func.json_build_object(
                _text("leader_id"), held.c.leader_id, _text("action"), _text("resigned")
            ),
            sa.Text,
        )
        notified = sa.select(
            held.c.leader_id,
            sa.func.pg_notify(self._channel(TOPIC_LEADERSHIP), payload).label("notified"),
        ).cte("notified_resignations")
        stmt = sa.delete(river_leader).where(c.leader_id == notified.c.leader_id)
        return self._execute(stmt).rowcount > 0

    def leader_get_elected_leader(self) -> Leader | None:
        stmt = sa.select(*_leader_columns(river_leader.c)).limit(1)
        return _leader(self._execute(stmt).first())

    def leader_delete_expired(self, now: datetime | None = None) -> int:
        stmt = sa.delete(river_leader).where(river_leader.c.expires_at < _now_or(now))
        return self._execute(stmt).rowcount

    # -- queues ----------------------------------------------------------------------------
    def queue_create_or_set_updated_at(self, params: QueueCreateOrSetUpdatedAtParams) -> Queue:
        now = _now_or(params.now)
        insert = pg.insert(river_queue).values(
            created_at=now,
            metadata=_jsonb(params.metadata.decode()),
            name=params.name,
            paused_at=_bind(params.paused_at, TIMESTAMPTZ),
            updated_at=sa.func.coalesce(_bind(params.updated_at, TIMESTAMPTZ), now),
        )
        stmt = insert.on_conflict_do_update(
            index_elements=[river_queue.c.name],
            set_={"updated_at": insert.excluded.updated_at},
        ).returning(*_QUEUE_COLUMNS)
        return _queue(self._execute(stmt).one())

    def queue_get(self, name: str) -> Queue | None:
        row = self._execute(sa.select(*_QUEUE_COLUMNS).where(river_queue.c.name == name)).first()
        return None if row is None else _queue(row)

    def queue_list(self, max: int = 100) -> list[Queue]:
        stmt = sa.select(*_QUEUE_COLUMNS).order_by(river_queue.c.name).limit(max)
        return [_queue(row) for row in self._execute(stmt)]

    def queue_name_list(self, params: QueueNameListParams) -> list[str]:
        name = river_queue.c.name
        stmt = sa.select(name).where(name > _text(params.after)).order_by(name).limit(params.max)
        if params.match:
            stmt = stmt.where(
                name.ilike(sa.func.concat(_text("%"), _text(params.match), _text("%")))
            )
        if params.exclude:
            stmt = stmt.where(name != sa.all_(_bind(list(params.exclude), _TEXT_ARRAY)))
        return list(self._execute(stmt).scalars())

    def _queue_set_paused(self, name: str, paused: bool, now: datetime | None) -> bool:
        c = river_queue.c
        now_or = _now_or(now)
        # Only a queue whose paused state changes gets a new updated_at.
        changes = c.paused_at.is_(None) if paused else c.paused_at.is_not(None)
        stmt = sa.update(river_queue).values(
            paused_at=sa.case((c.paused_at.is_(None), now_or), else_=c.paused_at)
            if paused
            else None,
            updated_at=sa.case((changes, now_or), else_=c.updated_at),
        )
        if name != _ALL_QUEUES:
            stmt = stmt.where(c.name == name)
        return self._execute(stmt).rowcount > 0 or name == _ALL_QUEUES

    def queue_pause(self, name: str, now: datetime | None = None) -> bool:
        return self._queue_set_paused(name, True, now)

    def queue_resume(self, name: str, now: datetime | None = None) -> bool:
        return self._queue_set_paused(name, False, now)

    def queue_update(self, params: QueueUpdateParams) -> Queue | None:
        c = river_queue.c
        values: dict[str, Any] = {"updated_at": sa.func.now()}
        if params.metadata is not None:
            values["metadata"] = _jsonb(params.metadata.decode())
        stmt = (
            sa.update(river_queue)
            .values(**values)
            .where(c.name == params.name)
            .returning(*_QUEUE_COLUMNS)
        )
        row = self._execute(stmt).first()
        return None if row is None else _queue(row)

    def queue_delete_expired(self, updated_at_horizon: datetime, max: int) -> list[str]:
        c = river_queue.c
        expired = (
            sa.select(c.name)
            .where(c.updated_at < _bind(updated_at_horizon, TIMESTAMPTZ))
            .order_by(c.name)
            .limit(max)
        )
        stmt = sa.delete(river_queue).where(c.name.in_(expired)).returning(c.name)
        return sorted(self._execute(stmt).scalars())

    # -- indexes ---------------------------------------------------------------------------
    def _index_schema(self) -> ColumnElement[bool]:
        schema = sa.func.current_schema() if self.schema is None else _text(self.schema)
        return pg_namespace.c.nspname == schema

    def indexes_exist(self, names: Sequence[str]) -> dict[str, bool]:
        stmt = (
            sa.select(pg_class.c.relname)
            .join(pg_namespace, pg_namespace.c.oid == pg_class.c.relnamespace)
            .where(
                self._index_schema(),
                pg_class.c.relkind == _text("i"),
                pg_class.c.relname == sa.any_(_bind(list(names), _TEXT_ARRAY)),
            )
        )
        found = set(self._execute(stmt).scalars())
        return {name: name in found for name in names}

    def index_reindex_artifacts(self, name: str) -> list[str]:
        suffix = sa.func.substr(pg_class.c.relname, len(name) + 1)
        stmt = (
            sa.select(pg_class.c.relname)
            .join(pg_namespace, pg_namespace.c.oid == pg_class.c.relnamespace)
            .join(pg_index, pg_index.c.indexrelid == pg_class.c.oid)
            .where(
                self._index_schema(),
                pg_class.c.relkind == _text("i"),
                sa.func.left(pg_class.c.relname, len(name)) == _text(name),
                suffix.regexp_match(_text("^_cc(new|old)[0-9]*$")),
                sa.not_(pg_index.c.indisvalid),
            )
            .order_by(pg_class.c.relname)
        )
        return list(self._execute(stmt).scalars())

    def index_drop_if_exists(self, name: str) -> None:
        self._execute(_IndexDdl("DROP INDEX CONCURRENTLY IF EXISTS", self.schema, name))

    def index_reindex(self, name: str) -> None:
        self._execute(_IndexDdl("REINDEX INDEX CONCURRENTLY", self.schema, name))

    # -- misc ------------------------------------------------------------------------------
    def notify_many(self, topic: str, payloads: Sequence[str]) -> None:
        if not payloads:
            return
        stmt = self._statement(
            "notify_" + topic,
            lambda: sa.select(
                sa.func.pg_notify(self._channel(topic), _unnest_param("payloads", sa.Text))
            ),
        )
        self.conn.execute(stmt, {"payloads": list(payloads)}, execution_options=self._options)

    def pg_advisory_xact_lock(self, key: int) -> None:
        self._execute(sa.select(sa.func.pg_advisory_xact_lock(_bind(key, sa.BigInteger))))

    def schema_version(self) -> int:
        name = "river_migration" if self.schema is None else f"{self.schema}.river_migration"
        table = sa.func.to_regclass(_text(name), type_=pg.REGCLASS)
        has_line = sa.exists().where(
            pg_attribute.c.attrelid == table,
            pg_attribute.c.attname == _text("line"),
            sa.not_(pg_attribute.c.attisdropped),
        )
        found = self._execute(sa.select(table.is_not(None), has_line)).one()
        if not found[0]:
            return 0
        stmt = sa.select(sa.func.max(river_migration.c.version))
        if found[1]:  # River 005 added `line`; before it, every row is `main`
            stmt = stmt.where(river_migration.c.line == _MIGRATION_LINE_MAIN)
        return int(self._execute(stmt).scalar_one() or 0)

    def table_truncate(self, tables: Sequence[str]) -> None:
        unknown = sorted(set(tables) - RIVER_TABLES.keys())
        if unknown:
            raise ValidationError("tables", f"not River tables: {', '.join(unknown)}")
        if tables:
            self._execute(_Truncate([RIVER_TABLES[name] for name in tables]))


__all__ = ["SqlExecutor"]
