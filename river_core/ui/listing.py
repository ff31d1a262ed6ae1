"""Job list filters from a query string, each state's order, and keyset cursors.

Every state is listed in an order an index serves, so the first page and a page a million
rows deep both read a handful of index entries: finalized jobs newest first (the
`(state, finalized_at)` index), running jobs by when they started (a bounded set), every other
state in the fetch index's order (queue, priority, scheduled_at, id): the order they run in.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.datastructures import QueryParams

from river_core.driver import JobListOrderBy, JobListParams
from river_core.job import FINAL_STATES, JobRow, JobState

DEFAULT_STATE = JobState.RUNNING  # River UI's default list
MAX_LIMIT = 1000
MAX_VALUES = 100
_BIGINT_MAX = 2**63 - 1


class BadQuery(ValueError):
    """A query parameter the list cannot use."""


@dataclass(frozen=True, slots=True)
class JobFilters:
    """What the jobs list shows: one state, and optional filters that must all match."""

    state: JobState = DEFAULT_STATE
    kinds: tuple[str, ...] = ()
    queues: tuple[str, ...] = ()
    priorities: tuple[int, ...] = ()
    ids: tuple[int, ...] = ()
    tags: tuple[str, ...] = ()

    @classmethod
    def from_query(cls, query: QueryParams) -> JobFilters:
        """River UI's parameters (`state`, and `kinds`, `queues`, `priorities`, `ids`, `tags`
        repeated or comma-separated); blank values are ignored."""
        state = query.get("state") or DEFAULT_STATE.value
        try:
            job_state = JobState(state)
        except ValueError:
            raise BadQuery(f"unknown state {state!r}") from None
        return cls(
            state=job_state,
            kinds=_values(query, "kinds"),
            queues=_values(query, "queues"),
            priorities=tuple(_int(v, "priorities", 1, 4) for v in _values(query, "priorities")),
            ids=tuple(_int(v, "ids", 1, _BIGINT_MAX) for v in _values(query, "ids")),
            tags=_values(query, "tags"),
        )

    @property
    def active(self) -> bool:
        """Whether any filter beside the state is set."""
        return bool(self.kinds or self.queues or self.priorities or self.ids or self.tags)

    def query(self, **changes: str) -> dict[str, str]:
        """These filters as query parameters (comma-joined), with `changes` applied."""
        params = {
            "state": self.state.value,
            "kinds": ",".join(self.kinds),
            "queues": ",".join(self.queues),
            "priorities": ",".join(map(str, self.priorities)),
            "ids": ",".join(map(str, self.ids)),
            "tags": ",".join(self.tags),
            **changes,
        }
        return {k: v for k, v in params.items() if v}

    def list_params(self, limit: int, after: str | None = None) -> JobListParams:
        order_by, descending = order_of(self.state)
        return JobListParams(
            max=limit,
            states=[self.state],
            kinds=self.kinds or None,
            queues=self.queues or None,
            priorities=self.priorities or None,
            ids=self.ids or None,
            tags=self.tags or None,
            order_by=order_by,
            descending=descending,
            after=None if after is None else decode_cursor(self.state, after),
        )


def order_of(state: JobState) -> tuple[JobListOrderBy, bool]:
    """(order, descending) of a state's list."""
    if state in FINAL_STATES:
        return JobListOrderBy.FINALIZED_AT, True
    if state is JobState.RUNNING:
        return JobListOrderBy.ATTEMPTED_AT, False
    return JobListOrderBy.QUEUE_PRIORITY_SCHEDULED_AT, False


def parse_limit(value: str | None, default: int) -> int:
    if value is None or value == "":
        return default
    return _int(value, "limit", 1, MAX_LIMIT)


def encode_cursor(state: JobState, job: JobRow) -> str:
    """The opaque cursor of the page after `job` in `state`'s order."""
    order_by, _ = order_of(state)
    if order_by is JobListOrderBy.QUEUE_PRIORITY_SCHEDULED_AT:
        value: list[Any] = [job.queue, job.priority, job.scheduled_at.isoformat()]
    else:
        at = job.finalized_at if order_by is JobListOrderBy.FINALIZED_AT else job.attempted_at
        value = [None if at is None else at.isoformat()]
    raw = json.dumps([state.value, *value, job.id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(state: JobState, cursor: str) -> tuple[Any, int]:
    """A cursor made by `encode_cursor` for `state`, as JobListParams' `after`."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_state, *value, job_id = json.loads(raw)
        if cursor_state != state.value or not isinstance(job_id, int):
            raise ValueError
        order_by, _ = order_of(state)
        if order_by is JobListOrderBy.QUEUE_PRIORITY_SCHEDULED_AT:
            queue, priority, scheduled_at = value
            if not isinstance(queue, str) or not isinstance(priority, int):
                raise ValueError
            return (queue, priority, datetime.fromisoformat(scheduled_at)), job_id
        (at,) = value
        return (None if at is None else datetime.fromisoformat(at)), job_id
    except (ValueError, TypeError, binascii.Error):
        raise BadQuery("not a cursor of this list") from None


def _values(query: QueryParams, name: str) -> tuple[str, ...]:
    values = tuple(
        part.strip() for raw in query.getlist(name) for part in raw.split(",") if part.strip()
    )
    if len(values) > MAX_VALUES:
        raise BadQuery(f"at most {MAX_VALUES} {name}")
    return values


def _int(value: str, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except ValueError:
        raise BadQuery(f"{name}: not an integer: {value!r}") from None
    if not low <= number <= high:
        raise BadQuery(f"{name}: {number} is not between {low} and {high}")
    return number
