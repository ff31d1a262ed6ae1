"""The uniform handle the client tests use, whatever the variant, and the job args they insert.

Every test is `async def`; `ClientUnderTest.api` turns every client method into a coroutine
function, so one test body drives the sync `Client` (psycopg over a sync Engine) and the
`AsyncClient` (psycopg or asyncpg over an AsyncEngine) alike.
"""

from __future__ import annotations

import inspect
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import psycopg
import pydantic
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

import river_core as river
from river_core.driver.sqlalchemy_driver import SqlAlchemyDriver

TxKind = Literal["connection", "session"]


# -- job args ------------------------------------------------------------------------------


@dataclass
class SortArgs:
    """A dataclass args type with a ClassVar kind (no to_json)."""

    strings: list[str]
    kind: ClassVar[str] = "sort"


@dataclass
class FieldKindArgs:
    """A dataclass whose kind is a field with a default (never encoded into args)."""

    n: int
    kind: str = "field_kind"


class PydanticArgs(pydantic.BaseModel):
    """A pydantic args model (no to_json)."""

    kind: ClassVar[str] = "pydantic_args"
    user_id: int
    email: str = pydantic.Field(alias="emailAddress")


class LegacyArgs:
    """riverqueue-python 0.7 style: a plain class with `kind` and a hand-written `to_json()`."""

    kind = "legacy"

    def __init__(self, message: str) -> None:
        self.message = message

    def to_json(self) -> str:
        return json.dumps({"message": self.message})


@dataclass
class RawArgs:
    """Args whose `to_json()` returns any text, to feed the encoder exactly what a test wants."""

    text: str
    kind: str = "raw"

    def to_json(self) -> str:
        return self.text


@dataclass
class OptsArgs:
    """Args with their own `insert_opts()` (River's `JobArgsWithInsertOpts`)."""

    opts: river.InsertOpts
    kind: ClassVar[str] = "opts_args"

    def to_json(self) -> str:
        return "{}"

    def insert_opts(self) -> river.InsertOpts:
        return self.opts


@dataclass
class AnyArgs:
    """Args of any kind holding any value, encoded by the dataclass path."""

    kind: str = "any"
    value: Any = None


class SortWorker(river.Worker[SortArgs]):
    """Registered so a client "has workers" (River's unknown-kind check); never run here."""

    def work(self, job: river.Job[SortArgs]) -> None:
        return None


# -- the handle ----------------------------------------------------------------------------


class Api:
    """Any client method as a coroutine function (awaited if the client is async)."""

    def __init__(self, client: river.Client | river.AsyncClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._client, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return call


@dataclass
class Recorder:
    """Statements sent and pool checkouts made while recording."""

    statements: list[str] = field(default_factory=list)
    checkouts: int = 0


class Rollback(Exception):
    """Raised inside `ClientUnderTest.tx` to roll the transaction back, as an app error would."""


@dataclass
class Notifications:
    """A psycopg LISTEN connection; `collect` returns what arrived, in order."""

    conn: psycopg.Connection[tuple[Any, ...]]
    channel: str

    def collect(self) -> list[str]:
        """Payloads received so far: a sentinel NOTIFY sent now marks the end (commit order)."""
        sentinel = "sentinel-" + uuid.uuid4().hex
        self.conn.execute("SELECT pg_notify(%s, %s)", (self.channel, sentinel))
        payloads: list[str] = []
        for notify in self.conn.notifies(timeout=5.0):
            if notify.payload == sentinel:
                return payloads
            payloads.append(notify.payload)
        raise AssertionError(f"the sentinel never arrived; got {payloads}")


@dataclass
class ClientUnderTest:
    """A client of one variant on a migrated schema, with what tests need around it."""

    variant: str
    schema: str
    database_url: str
    engine: sa.Engine | AsyncEngine
    driver: SqlAlchemyDriver
    db: sa.Engine  # a separate sync engine for setup and checks
    client: river.Client | river.AsyncClient = field(init=False)
    api: Api = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.make_client()
        self.api = Api(self.client)

    @property
    def is_async(self) -> bool:
        return isinstance(self.engine, AsyncEngine)

    def make_client(self, config: river.Config | None = None) -> river.Client | river.AsyncClient:
        """Another client of this variant on the same driver (e.g. with workers)."""
        client_class = river.AsyncClient if self.is_async else river.Client
        return client_class(self.driver, config)

    @asynccontextmanager
    async def tx(self, kind: TxKind = "session") -> AsyncIterator[Any]:
        """A user transaction of this variant: a (Async)Session or (Async)Connection.

        Committed when the block ends; raise `Rollback` (or anything) to roll it back.
        """
        if isinstance(self.engine, AsyncEngine):
            if kind == "session":
                async with AsyncSession(self.engine) as session, session.begin():
                    yield session
            else:
                async with self.engine.begin() as conn:
                    yield conn
        elif kind == "session":
            with Session(self.engine) as session, session.begin():
                yield session
        else:
            with self.engine.begin() as conn:
                yield conn

    def _sql(self, query: str) -> sa.TextClause:
        """`query` with `{schema}` replaced by this test's quoted schema."""
        return sa.text(query.replace("{schema}", f'"{self.schema}"'))

    async def scalar_in(self, tx: Any, query: str) -> Any:
        """`query` (with `{schema}`) run in the caller's transaction `tx`."""
        stmt = self._sql(query)
        result = tx.execute(stmt)
        if inspect.isawaitable(result):
            result = await result
        return result.scalar_one()

    def count_jobs(self, where: str = "true") -> int:
        """Committed rows of river_job matching `where`."""
        return int(self.scalar("SELECT count(*) FROM {schema}.river_job WHERE " + where))

    def scalar(self, query: str, **params: Any) -> Any:
        """One value of `query` (with `{schema}`), in its own committed transaction."""
        with self.db.begin() as conn:
            stmt = self._sql(query)
            return conn.execute(stmt, params).scalar_one()

    def execute(self, query: str, **params: Any) -> None:
        with self.db.begin() as conn:
            conn.execute(self._sql(query), params)

    @contextmanager
    def recording(self) -> Iterator[Recorder]:
        """Record every statement this variant's engine sends, and every pool checkout."""
        target = self.engine.sync_engine if isinstance(self.engine, AsyncEngine) else self.engine
        recorder = Recorder()

        def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            recorder.statements.append(statement)

        def on_checkout(*args: Any) -> None:
            recorder.checkouts += 1

        sa.event.listen(target, "before_cursor_execute", on_execute)
        sa.event.listen(target.pool, "checkout", on_checkout)
        try:
            yield recorder
        finally:
            sa.event.remove(target, "before_cursor_execute", on_execute)
            sa.event.remove(target.pool, "checkout", on_checkout)

    @contextmanager
    def listening(self, topic: str) -> Iterator[Notifications]:
        """LISTEN on `<schema>.<topic>` from a separate autocommit connection."""
        channel = f"{self.schema}.{topic}"
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
            yield Notifications(conn, channel)
