"""The elector: at most one leader per schema, through a lease in `river_leader` (River's
`leadership.Elector`).

A leader holds a lease of `interval + ttl_padding` seconds (15 s by default), renewed every
`interval` (5 s). It trusts its leadership only until the lease's start, as measured locally
before the renewal was sent, plus the lease minus a safety margin; when that time comes without
a renewal it stops leading, so its maintenance has stopped before another client can be
elected. Followers try to become leader every interval (plus jitter), and at once when the
leader announces its resignation on `river_leadership`. A clean stop resigns.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from river_core.driver import (
    Driver,
    Executor,
    Leader,
    LeaderElectParams,
    LeaderReelectParams,
    LeaderResignParams,
)
from river_core.runtime.db import run_in_tx

log = logging.getLogger("river.elector")

ATTEMPT_TIMEOUT = 5.0  # River's deadlineTimeout: longest wait for one elect or reelect
MAX_SAFETY_MARGIN = 1.0  # River's leaderLocalDeadlineSafetyMargin
RESIGN_ATTEMPTS = 3
WAKE_SPREAD = 0.05  # after a resignation, followers bid within this many seconds


def exponential_backoff(attempt: int, max_attempts_before_reset: int) -> float:
    """River's `ExponentialBackoff`: 2^(attempt-1) seconds +/-10%, cycling every few attempts."""
    seconds = 2.0 ** ((attempt - 1) % max_attempts_before_reset)
    return seconds + seconds * (random.random() * 0.2 - 0.1)


@dataclass(frozen=True, slots=True)
class Term:
    """One term of leadership: River identifies it by leader id and `elected_at`."""

    leader_id: str
    elected_at: datetime
    trusted_until: float  # time.monotonic() after which this client no longer acts as leader

    def remaining(self) -> float:
        return max(0.0, self.trusted_until - time.monotonic())


class Elector:
    """Elects this client when it can, keeps the lease, and runs `on_gained` / `on_lost`
    around each term (`on_lost` completes before the lease is released or could expire)."""

    def __init__(
        self,
        driver: Driver,
        client_id: str,
        *,
        interval: float = 5.0,
        ttl_padding: float = 10.0,
        on_gained: Callable[[], None] = lambda: None,
        on_lost: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._driver = driver
        self.client_id = client_id
        self.interval = interval
        self.ttl = interval + ttl_padding
        self.jitter = interval / 5  # River: 1 s of jitter on its 5 s interval
        self.safety_margin = min(MAX_SAFETY_MARGIN, ttl_padding / 4)
        self._on_gained = on_gained
        self._on_lost = on_lost
        self.term: Term | None = None
        self._signal = asyncio.Event()  # a wake-up or a stop
        self._stopping = False
        self._request_resign = False
        self._task: asyncio.Task[None] | None = None

    @property
    def is_leader(self) -> bool:
        return self.term is not None and self.term.remaining() > 0

    def lease_remaining(self) -> float:
        """Seconds this client may still act as leader (0 when it is not the leader)."""
        return 0.0 if self.term is None else self.term.remaining()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="river-elector")

    async def stop(self) -> None:
        """Stop: a leader stops its maintenance, then resigns (which notifies followers)."""
        self._stopping = True
        self._signal.set()
        if self._task is not None:
            try:
                await asyncio.shield(self._task)
            except Exception as exc:
                log.error("elector: failed: %r", exc)

    def handle_notification(self, message: dict[str, Any]) -> None:
        """A `river_leadership` payload: `resigned` wakes followers at once, `request_resign`
        makes the leader resign."""
        action = message.get("action")
        if action == "request_resign":
            if self.term is not None:
                self._request_resign = True
                self._signal.set()
        elif action == "resigned" and message.get("leader_id") != self.client_id:
            self._signal.set()

    # -- the state machine ----------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            term = await self._follow()
            if term is None:
                return
            self.term = term
            log.info("elector: %s gained leadership", self.client_id)
            self._on_gained()
            resign = True
            try:
                resign = await self._lead()
            finally:
                if self._on_lost is not None:
                    await self._on_lost()
                self.term = None
                self._request_resign = False
                log.info("elector: %s stopped leading", self.client_id)
                if resign:
                    await self._resign(term)
            if self._stopping:
                return

    async def _wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if woken early (a notification or a stop)."""
        try:
            await asyncio.wait_for(self._signal.wait(), max(0.0, seconds))
        except TimeoutError:
            return False
        self._signal.clear()
        return True

    async def _follow(self) -> Term | None:
        """Bid until elected (the new term) or stopped (None)."""
        errors = 0
        while not self._stopping:
            started = time.monotonic()
            try:
                async with asyncio.timeout(ATTEMPT_TIMEOUT):
                    leader = await run_in_tx(self._driver, self._elect)
            except Exception as exc:
                errors += 1
                backoff = exponential_backoff(errors, 7)
                log.error("elector: election attempt failed (retrying in %.1fs): %r", backoff, exc)
                await self._wait(backoff)
                continue
            errors = 0
            if leader is not None:
                return self._term(leader, started)
            delay = random.uniform(self.interval, self.interval + self.jitter)
            if await self._wait(delay) and not self._stopping:
                # Somebody resigned: bid soon, spread out so not every client bids at once.
                await asyncio.sleep(random.uniform(0, WAKE_SPREAD))
        return None

    def _elect(self, ex: Executor) -> Leader | None:
        ex.leader_delete_expired()
        return ex.leader_attempt_elect(
            LeaderElectParams(self.client_id, timedelta(seconds=self.ttl))
        )

    def _term(self, leader: Leader, started: float) -> Term:
        trusted_until = started + max(0.0, self.ttl - self.safety_margin)
        return Term(leader.leader_id, leader.elected_at, trusted_until)

    async def _lead(self) -> bool:
        """Keep the lease until stopped, asked to resign, or unable to renew it in time.
        Returns whether to resign (not when the lease is already someone else's)."""
        renew_at = time.monotonic() + self.interval
        errors = 0
        while True:
            assert self.term is not None
            if await self._wait(renew_at - time.monotonic()):
                if self._stopping:
                    return True
                if self._request_resign:
                    log.info("elector: %s resigning on request", self.client_id)
                    return True
                continue  # another client's resignation: nothing to do for the leader
            started = time.monotonic()
            budget = min(self.term.remaining(), ATTEMPT_TIMEOUT)
            if budget <= 0:
                log.warning(
                    "elector: %s stepping down: the lease could not be renewed in time",
                    self.client_id,
                )
                return True
            try:
                async with asyncio.timeout(budget):
                    leader = await self._reelect(self.term)
            except Exception as exc:
                errors += 1
                remaining = self.term.remaining()
                if remaining <= 0:
                    log.warning(
                        "elector: %s stepping down: renewing the lease failed: %r",
                        self.client_id,
                        exc,
                    )
                    return True
                backoff = min(exponential_backoff(errors, 3), remaining)
                log.error(
                    "elector: renewing the lease failed (retrying in %.1fs): %r", backoff, exc
                )
                if await self._wait(backoff) and (self._stopping or self._request_resign):
                    return True
                renew_at = 0.0  # retry at once: the failed attempt used up some of the lease
                continue
            if leader is None:
                log.warning("elector: %s lost leadership: its lease expired", self.client_id)
                return False
            errors = 0
            self.term = self._term(leader, started)
            renew_at = started + self.interval

    async def _reelect(self, term: Term) -> Leader | None:
        params = LeaderReelectParams(self.client_id, term.elected_at, timedelta(seconds=self.ttl))
        return await run_in_tx(self._driver, lambda ex: ex.leader_attempt_reelect(params))

    async def _resign(self, term: Term) -> None:
        """Give the lease up (and notify), a few times if need be; its expiry is the backstop."""
        params = LeaderResignParams(term.leader_id, term.elected_at)
        for attempt in range(1, RESIGN_ATTEMPTS + 1):
            try:
                async with asyncio.timeout(float(attempt)):
                    await run_in_tx(self._driver, lambda ex: ex.leader_resign(params))
                return
            except Exception as exc:
                log.error("elector: resigning failed (attempt %d): %r", attempt, exc)
                if attempt < RESIGN_ATTEMPTS:
                    await asyncio.sleep(exponential_backoff(attempt, RESIGN_ATTEMPTS))
