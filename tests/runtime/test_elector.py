"""The elector in one process: election, renewal, resignation (clean stop, on request), a
follower's immediate bid after a resignation, and stepping down before the lease can expire."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from runtime_helpers import DriverFactory, wait_until

from river_core.driver import TOPIC_LEADERSHIP, Driver, Leader
from river_core.runtime.db import run_in_tx
from river_core.runtime.elector import Elector
from river_core.runtime.notifier import Notifier


class Terms:
    """What one elector's callbacks saw: gains and losses (monotonic and wall-clock times)."""

    def __init__(self, driver: Driver) -> None:
        self._driver = driver
        self.gained: list[float] = []
        self.lost: list[tuple[float, datetime]] = []
        self.row_at_loss: list[Leader | None] = []

    def on_gained(self) -> None:
        self.gained.append(time.monotonic())

    async def on_lost(self) -> None:
        self.lost.append((time.monotonic(), datetime.now(UTC)))
        self.row_at_loss.append(await asyncio.wait_for(leader_row(self._driver), 5))


async def leader_row(driver: Driver) -> Leader | None:
    return await run_in_tx(driver, lambda ex: ex.leader_get_elected_leader())


def make_elector(
    driver: Driver, client_id: str, interval: float = 0.2, ttl_padding: float = 0.4
) -> tuple[Elector, Terms]:
    terms = Terms(driver)
    elector = Elector(
        driver,
        client_id,
        interval=interval,
        ttl_padding=ttl_padding,
        on_gained=terms.on_gained,
        on_lost=terms.on_lost,
    )
    return elector, terms


@asynccontextmanager
async def started(elector: Elector, *, notified: bool = False) -> AsyncIterator[Elector]:
    """Run `elector` (with a notifier for `river_leadership` if `notified`); stop it after."""
    notifier = None
    if notified:
        notifier = Notifier(
            elector._driver, {TOPIC_LEADERSHIP: elector.handle_notification}, lambda: None
        )
        notifier.start()
        await asyncio.wait_for(notifier.connected.wait(), 5)
    elector.start()
    try:
        yield elector
    finally:
        await asyncio.wait_for(elector.stop(), 10)
        if notifier is not None:
            await asyncio.wait_for(notifier.stop(), 10)


def until(check: Callable[[], bool]) -> Callable[[], Awaitable[bool | None]]:
    async def poll() -> bool | None:
        return True if check() else None

    return poll


async def test_elects_renews_and_resigns_on_a_clean_stop(driver: Driver) -> None:
    """A lone client leads at once with a lease of interval + padding, renews it each
    interval in the same term, and on stop stops its maintenance before releasing it."""
    elector, terms = make_elector(driver, "solo")
    async with started(elector):
        await wait_until(until(lambda: elector.is_leader), "leadership")
        first = await leader_row(driver)
        assert first is not None and first.leader_id == "solo"
        assert (first.expires_at - first.elected_at).total_seconds() == pytest.approx(0.6)

        async def renewed() -> Leader | None:
            row = await leader_row(driver)
            return row if row is not None and row.expires_at > first.expires_at else None

        second = await wait_until(renewed, "a renewal", timeout=2)
        assert second.elected_at == first.elected_at
    assert len(terms.gained) == len(terms.lost) == 1
    (row_at_loss,) = terms.row_at_loss  # maintenance stopped while the lease was still held
    assert row_at_loss is not None and row_at_loss.leader_id == "solo"
    assert await leader_row(driver) is None
    assert not elector.is_leader and elector.lease_remaining() == 0


async def test_one_leader_among_many_and_a_successor_when_it_stops(
    make_driver: DriverFactory,
) -> None:
    electors = [make_elector(make_driver(), f"c{i}") for i in range(3)]
    async with started(electors[0][0]), started(electors[1][0]), started(electors[2][0]):
        await wait_until(until(lambda: any(e.is_leader for e, _ in electors)), "a leader")
        for _ in range(15):  # 1.5 s: several renewals and bids
            assert sum(e.is_leader for e, _ in electors) == 1
            await asyncio.sleep(0.1)
        leader = next(e for e, _ in electors if e.is_leader)
        await asyncio.wait_for(leader.stop(), 5)
        await wait_until(
            until(lambda: any(e.is_leader for e, _ in electors if e is not leader)),
            "a successor",
            timeout=3,
        )
    assert all(len(t.gained) == len(t.lost) for _, t in electors)


async def test_a_follower_leads_at_once_after_the_leader_resigns(
    make_driver: DriverFactory,
) -> None:
    """River's 5 s interval: only the `resigned` notification explains a successor within
    a second of the leader's clean stop."""
    first, _ = make_elector(make_driver(), "first", interval=5.0, ttl_padding=10.0)
    second, _ = make_elector(make_driver(), "second", interval=5.0, ttl_padding=10.0)
    async with started(first, notified=True):
        await wait_until(until(lambda: first.is_leader), "first leads")
        async with started(second, notified=True):
            await asyncio.sleep(0.3)  # the follower's bid was denied; it now waits 5-6 s
            assert not second.is_leader
            stopped = time.monotonic()
            await asyncio.wait_for(first.stop(), 5)
            await wait_until(until(lambda: second.is_leader), "second leads", timeout=1)
            assert time.monotonic() - stopped < 1.0
            row = await leader_row(second._driver)
            assert row is not None and row.leader_id == "second"


async def test_a_request_to_resign_is_honoured(make_driver: DriverFactory) -> None:
    elector, terms = make_elector(make_driver(), "asked", interval=5.0, ttl_padding=10.0)
    async with started(elector, notified=True):
        await wait_until(until(lambda: elector.is_leader), "leadership")
        before = await leader_row(elector._driver)
        assert before is not None
        payload = json.dumps({"action": "request_resign", "leader_id": ""})
        await run_in_tx(make_driver(), lambda ex: ex.notify_many(TOPIC_LEADERSHIP, [payload]))
        await wait_until(until(lambda: len(terms.lost) == 1), "the resignation", timeout=2)

        async def new_term() -> Leader | None:
            row = await leader_row(elector._driver)
            return row if row is not None and row.elected_at > before.elected_at else None

        # It may win the next election at once (as in River), but in a new term.
        await wait_until(new_term, "a new term", timeout=2)


async def test_own_resignation_and_unknown_actions_are_ignored(driver: Driver) -> None:
    elector, _ = make_elector(driver, "me")
    elector.handle_notification({"action": "resigned", "leader_id": "me"})
    elector.handle_notification({"action": "something_else"})
    elector.handle_notification({"action": "request_resign", "leader_id": ""})  # not a leader
    assert not elector._signal.is_set() and not elector._request_resign
    elector.handle_notification({"action": "resigned", "leader_id": "other"})
    assert elector._signal.is_set()


async def test_a_leader_that_cannot_renew_stops_before_its_lease_could_expire(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    """Renewals blocked by a row lock: the leader stops acting (its maintenance stopped)
    before the lease it last renewed expires, so no other client could lead meanwhile."""
    elector, terms = make_elector(driver, "blocked", interval=0.3, ttl_padding=0.6)
    async with started(elector):
        await wait_until(until(lambda: elector.is_leader), "leadership")
        with sync_engine.connect() as locker:
            row = locker.exec_driver_sql(
                f'SELECT expires_at FROM "{schema}".river_leader FOR UPDATE'
            ).one()
            expires_at = row[0]
            try:
                await wait_until(until(lambda: bool(terms.lost)), "stepping down", timeout=3)
            finally:
                locker.rollback()
        _, lost_at = terms.lost[0]
        margin = (expires_at - lost_at).total_seconds()
        assert margin > 0, f"still leading {-margin:.3f}s after the lease expired"
        # Re-elected once the lock is gone: the lease expired, its row was deleted.
        await wait_until(until(lambda: elector.is_leader), "re-election", timeout=3)
    assert len(terms.gained) == 2


async def test_a_lease_taken_over_is_lost_without_resigning(
    driver: Driver, sync_engine: sa.Engine, schema: str
) -> None:
    elector, terms = make_elector(driver, "usurped", interval=0.2, ttl_padding=5.0)
    async with started(elector):
        await wait_until(until(lambda: elector.is_leader), "leadership")
        with sync_engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE \"{schema}\".river_leader SET leader_id = 'intruder'")
        await wait_until(until(lambda: bool(terms.lost)), "the loss", timeout=2)
        row = await leader_row(driver)
        assert row is not None and row.leader_id == "intruder"  # not resigned away
        await wait_until(until(lambda: not elector.is_leader), "stepping down", timeout=2)
