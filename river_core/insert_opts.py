"""Insert options and their resolution into the values of a new `river_job` row (pure).

`InsertOpts` is a superset of the official `riverqueue` package's (same positional order, plus
keyword-only `metadata` and `pending`). Every field is optional: None means "not set", and the
first layer that sets a field wins, in River's order: the options given to `insert`, then the
args' own `insert_opts()`, then the client's defaults, then River's defaults. Lists and
metadata are taken whole from one layer, never merged; an explicit empty list counts as set.
Unique options are taken from the first layer whose `UniqueOpts` is not empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass
from datetime import datetime
from typing import Any

from river_core.job import JobState
from river_core.unique import UniqueOpts, unique_key
from river_core.validation import (
    InvalidInsertOptsError,
    validate_kind,
    validate_max_attempts,
    validate_metadata,
    validate_priority,
    validate_queue,
    validate_scheduled_at,
    validate_tags,
)

__all__ = [
    "MAX_ATTEMPTS_DEFAULT",
    "PRIORITY_DEFAULT",
    "QUEUE_DEFAULT",
    "InsertOpts",
    "ResolvedInsert",
    "UniqueOpts",
    "resolve_insert",
]

MAX_ATTEMPTS_DEFAULT = 25
PRIORITY_DEFAULT = 1
QUEUE_DEFAULT = "default"


@dataclass
class InsertOpts:
    """Options for one insert, for all jobs of an args type (`insert_opts()`), or defaults."""

    max_attempts: int | None = None
    priority: int | None = None
    queue: str | None = None
    scheduled_at: datetime | None = None
    tags: Sequence[str] | None = None
    unique_opts: UniqueOpts | None = None
    _: KW_ONLY
    metadata: Mapping[str, Any] | str | bytes | None = None
    """A JSON object: a mapping, or its JSON text."""
    pending: bool | None = None
    """Insert in the `pending` state (never worked until moved out of it)."""


@dataclass(frozen=True, slots=True)
class ResolvedInsert:
    """Validated values of one job to insert."""

    kind: str
    encoded_args: bytes
    queue: str
    priority: int
    max_attempts: int
    scheduled_at: datetime | None
    """UTC; None means the database's now()."""
    state: JobState
    tags: list[str]
    metadata: dict[str, Any]
    encoded_metadata: bytes
    unique_key: bytes | None
    unique_states: int | None


def _first(layers: Sequence[InsertOpts], name: str, default: Any = None) -> Any:
    for layer in layers:
        value = getattr(layer, name)
        if value is not None:
            return value
    return default


def resolve_insert(
    kind: str,
    encoded_args: bytes,
    opts: InsertOpts | None = None,
    *,
    args_opts: InsertOpts | None = None,
    defaults: InsertOpts | None = None,
    now: datetime,
) -> ResolvedInsert:
    """Resolve and validate the options of one insert of Go-encoded args.

    `now` (aware) decides the state: `pending` if asked, `scheduled` if `scheduled_at` is later
    than `now`, else `available`. As River's client does, a `by_period` unique key is truncated
    from `now`, not from `scheduled_at`.
    """
    layers: list[InsertOpts] = []
    for name, layer in (("insert_opts", opts), ("args_opts", args_opts), ("defaults", defaults)):
        if layer is None:
            continue
        if not isinstance(layer, InsertOpts):
            raise InvalidInsertOptsError(name, f"must be an InsertOpts, not {type(layer).__name__}")
        layers.append(layer)
    if now.tzinfo is None or now.utcoffset() is None:
        raise InvalidInsertOptsError("now", "must be a timezone-aware datetime")
    kind = validate_kind(kind)

    queue = validate_queue(_first(layers, "queue", QUEUE_DEFAULT))
    max_attempts = validate_max_attempts(_first(layers, "max_attempts", MAX_ATTEMPTS_DEFAULT))
    priority = validate_priority(_first(layers, "priority", PRIORITY_DEFAULT))
    tags = validate_tags(_first(layers, "tags", []))
    encoded_metadata = validate_metadata(_first(layers, "metadata", {}))

    scheduled_at = _first(layers, "scheduled_at")
    if scheduled_at is not None:
        scheduled_at = validate_scheduled_at(scheduled_at)
    pending = _first(layers, "pending")
    if pending is not None and not isinstance(pending, bool):
        raise InvalidInsertOptsError("pending", f"must be a bool, not {type(pending).__name__}")
    if pending:
        state = JobState.PENDING
    elif scheduled_at is not None and scheduled_at > now:
        state = JobState.SCHEDULED
    else:
        state = JobState.AVAILABLE

    key: bytes | None = None
    states: int | None = None
    for layer in layers:
        unique_opts = layer.unique_opts
        if unique_opts is None:
            continue
        if not isinstance(unique_opts, UniqueOpts):
            raise InvalidInsertOptsError(
                "unique_opts", f"must be a UniqueOpts, not {type(unique_opts).__name__}"
            )
        if not unique_opts.is_empty():
            key, states = unique_key(kind, encoded_args, queue, unique_opts, now=now)
            break

    return ResolvedInsert(
        kind=kind,
        encoded_args=encoded_args,
        queue=queue,
        priority=priority,
        max_attempts=max_attempts,
        scheduled_at=scheduled_at,
        state=state,
        tags=tags,
        metadata=json.loads(encoded_metadata),
        encoded_metadata=encoded_metadata,
        unique_key=key,
        unique_states=states,
    )
