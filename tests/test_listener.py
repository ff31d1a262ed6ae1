"""The native listeners of both drivers, against real LISTEN/NOTIFY."""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from river_core.driver import TOPIC_CONTROL, TOPIC_INSERT, TOPIC_LEADERSHIP, Notification
from river_core.errors import ConnectionLostError, ValidationError
from river_driver_asyncpg import AsyncpgDriver, AsyncpgListener
from river_driver_psycopg import PsycopgDriver, PsycopgListener

VARIANTS = ("psycopg-sync", "psycopg-async", "asyncpg")
Listener = PsycopgListener | AsyncpgListener
NewDriver = Callable[..., PsycopgDriver | AsyncpgDriver]


@pytest.fixture
def schema() -> str:
    """A schema name of its own (LISTEN channels need no tables)."""
    return "l_" + uuid.uuid4().hex[:12]


@pytest.fixture(params=VARIANTS)
async def new_driver(
    request: pytest.FixtureRequest, database_url: str, sync_engine: sa.Engine
) -> AsyncIterator[NewDriver]:
    """Builds drivers of one variant, all on one engine."""
    if request.param == "psycopg-sync":
        yield functools.partial(PsycopgDriver, sync_engine)
        return
    dbapi = "asyncpg" if request.param == "asyncpg" else "psycopg"
    engine = create_async_engine(make_url(database_url).set(drivername=f"postgresql+{dbapi}"))
    yield functools.partial(AsyncpgDriver if dbapi == "asyncpg" else PsycopgDriver, engine)
    await engine.dispose()


@pytest.fixture
def driver(new_driver: NewDriver, schema: str) -> PsycopgDriver | AsyncpgDriver:
    return new_driver(schema=schema)


@pytest.fixture
async def listener(driver: PsycopgDriver | AsyncpgDriver) -> AsyncIterator[Listener]:
    listener = driver.listener()
    await listener.connect()
    yield listener
    await listener.close()


def notify(
    engine: sa.Engine, schema: str | None, topic: str, payload: str, *, commit: bool = True
) -> None:
    """`pg_notify('<schema>.<topic>', payload)` in a transaction that commits or rolls back."""
    with engine.connect() as conn:
        channel = f"{schema or 'public'}.{topic}"
        conn.execute(sa.select(sa.func.pg_notify(channel, payload)))
        if commit:
            conn.commit()
        else:
            conn.rollback()


def terminate(engine: sa.Engine, pid: int | None) -> None:
    assert pid is not None
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.pg_terminate_backend(pid))).scalar_one()


async def test_round_trip_strips_the_schema_from_the_topic(
    listener: Listener, sync_engine: sa.Engine, schema: str
) -> None:
    await listener.listen(TOPIC_INSERT)
    notify(sync_engine, schema, TOPIC_INSERT, '{"queue":"default"}')
    assert await listener.wait_for_notification(5) == Notification(
        TOPIC_INSERT, '{"queue":"default"}'
    )


async def test_notifications_of_one_packet_all_arrive_in_order(
    listener: Listener, sync_engine: sa.Engine, schema: str
) -> None:
    await listener.listen(TOPIC_INSERT)
    await listener.listen(TOPIC_LEADERSHIP)
    with sync_engine.begin() as conn:  # delivered together at commit
        for i, topic in enumerate([TOPIC_INSERT, TOPIC_LEADERSHIP, TOPIC_INSERT]):
            conn.execute(sa.select(sa.func.pg_notify(f"{schema}.{topic}", str(i))))
    received = [await listener.wait_for_notification(5) for _ in range(3)]
    assert received == [
        Notification(TOPIC_INSERT, "0"),
        Notification(TOPIC_LEADERSHIP, "1"),
        Notification(TOPIC_INSERT, "2"),
    ]
    assert await listener.wait_for_notification(0.1) is None


async def test_executor_notify_many_reaches_the_listener(
    driver: PsycopgDriver | AsyncpgDriver, listener: Listener
) -> None:
    """The executor's NOTIFY channel and the listener's agree."""
    await listener.listen(TOPIC_CONTROL)
    payloads = ['{"action":"pause","queue":"a"}', '{"action":"resume","queue":"a"}']
    if driver.is_async:
        async with driver.async_transaction() as async_executor:
            await async_executor.run(lambda ex: ex.notify_many(TOPIC_CONTROL, payloads))
    else:
        with driver.transaction() as executor:
            executor.notify_many(TOPIC_CONTROL, payloads)
    assert [await listener.wait_for_notification(5) for _ in payloads] == [
        Notification(TOPIC_CONTROL, payload) for payload in payloads
    ]


async def test_timeout_returns_none(listener: Listener) -> None:
    await listener.listen(TOPIC_INSERT)
    started = time.monotonic()
    assert await listener.wait_for_notification(0.2) is None
    assert 0.15 <= time.monotonic() - started < 2


async def test_unlisten_stops_one_topic(
    listener: Listener, sync_engine: sa.Engine, schema: str
) -> None:
    await listener.listen(TOPIC_INSERT)
    await listener.listen(TOPIC_CONTROL)
    await listener.unlisten(TOPIC_INSERT)
    assert listener.topics == {TOPIC_CONTROL}
    notify(sync_engine, schema, TOPIC_INSERT, "dropped")
    notify(sync_engine, schema, TOPIC_CONTROL, "kept")
    assert await listener.wait_for_notification(5) == Notification(TOPIC_CONTROL, "kept")
    assert await listener.wait_for_notification(0.2) is None


async def test_schemas_do_not_see_each_others_notifications(
    new_driver: NewDriver, listener: Listener, sync_engine: sa.Engine, schema: str
) -> None:
    other_schema = schema + "_other"
    other = new_driver(schema=other_schema).listener()
    await other.connect()
    try:
        await listener.listen(TOPIC_INSERT)
        await other.listen(TOPIC_INSERT)
        notify(sync_engine, other_schema, TOPIC_INSERT, "for other")
        notify(sync_engine, schema, TOPIC_INSERT, "for listener")
        assert await listener.wait_for_notification(5) == Notification(TOPIC_INSERT, "for listener")
        assert await other.wait_for_notification(5) == Notification(TOPIC_INSERT, "for other")
        assert await listener.wait_for_notification(0.2) is None
        assert await other.wait_for_notification(0.01) is None
    finally:
        await other.close()


async def test_no_schema_listens_on_public(new_driver: NewDriver, sync_engine: sa.Engine) -> None:
    listener = new_driver().listener()
    await listener.listen(TOPIC_LEADERSHIP)  # before connect: LISTENed on connect
    await listener.connect()
    try:
        notify(sync_engine, None, TOPIC_LEADERSHIP, "public")
        assert await listener.wait_for_notification(5) == Notification(TOPIC_LEADERSHIP, "public")
    finally:
        await listener.close()


async def test_notify_of_a_rolled_back_transaction_never_arrives(
    listener: Listener, sync_engine: sa.Engine, schema: str
) -> None:
    await listener.listen(TOPIC_INSERT)
    notify(sync_engine, schema, TOPIC_INSERT, "rolled back", commit=False)
    notify(sync_engine, schema, TOPIC_INSERT, "committed")
    assert await listener.wait_for_notification(5) == Notification(TOPIC_INSERT, "committed")
    assert await listener.wait_for_notification(0.2) is None


async def test_reconnect_after_the_backend_is_terminated_listens_again(
    listener: Listener, sync_engine: sa.Engine, schema: str
) -> None:
    await listener.listen(TOPIC_INSERT)
    await listener.listen(TOPIC_CONTROL)
    pid = listener.backend_pid
    terminate(sync_engine, pid)
    with pytest.raises(ConnectionLostError):
        await listener.wait_for_notification(5)
    with pytest.raises(ConnectionLostError):  # still down until connect()
        await listener.wait_for_notification(0.1)

    await listener.connect()
    assert listener.backend_pid not in (None, pid)
    notify(sync_engine, schema, TOPIC_INSERT, "after")
    notify(sync_engine, schema, TOPIC_CONTROL, "after too")
    assert await listener.wait_for_notification(5) == Notification(TOPIC_INSERT, "after")
    assert await listener.wait_for_notification(5) == Notification(TOPIC_CONTROL, "after too")


async def test_ping_reports_a_lost_connection(listener: Listener, sync_engine: sa.Engine) -> None:
    await listener.ping()
    terminate(sync_engine, listener.backend_pid)
    with pytest.raises(ConnectionLostError):
        # The first statement after the termination may still be written; the loss shows by
        # the second at the latest.
        for _ in range(2):
            await listener.ping()
    await listener.connect()
    await listener.ping()


async def test_close_then_connect_keeps_the_topics(
    listener: Listener, sync_engine: sa.Engine, schema: str
) -> None:
    await listener.listen(TOPIC_INSERT)
    await listener.close()
    assert listener.backend_pid is None
    with pytest.raises(ConnectionLostError):
        await listener.wait_for_notification(0.1)
    await listener.connect()
    notify(sync_engine, schema, TOPIC_INSERT, "again")
    assert await listener.wait_for_notification(5) == Notification(TOPIC_INSERT, "again")


async def test_connect_is_a_no_op_on_a_live_connection(listener: Listener) -> None:
    pid = listener.backend_pid
    await listener.connect()
    assert listener.backend_pid == pid


async def test_only_rivers_topics_are_accepted(listener: Listener) -> None:
    with pytest.raises(ValidationError):
        await listener.listen('river_insert"; DROP TABLE x; --')
    with pytest.raises(ValidationError):
        await listener.unlisten("other")
    assert listener.topics == frozenset()


async def test_listener_connection_is_not_from_the_pool(
    driver: PsycopgDriver | AsyncpgDriver, listener: Listener
) -> None:
    assert listener.backend_pid is not None
    pool = driver.engine.pool
    assert isinstance(pool, sa.pool.QueuePool)
    assert pool.checkedout() == 0


async def test_listener_url_replaces_the_engine_url(
    new_driver: NewDriver, database_url: str, schema: str
) -> None:
    unreachable = make_url(database_url).set(port=1)
    listener = new_driver(schema=schema, listener_url=unreachable).listener()
    with pytest.raises(ConnectionLostError):
        await listener.connect()
    with pytest.raises(ConnectionLostError):
        await listener.ping()


async def test_pgbouncer_requires_a_listener_url(new_driver: NewDriver, database_url: str) -> None:
    with pytest.raises(ValidationError, match="listener_url"):
        new_driver(pgbouncer=True)
    direct = new_driver(listener_url=database_url, pgbouncer=True).listener()
    await direct.connect()
    await direct.ping()
    await direct.close()
