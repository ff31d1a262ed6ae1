"""From args and options to the driver's insert parameters (validated, encoded, keyed)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from river_core.config import Config
from river_core.driver import JobInsertParams
from river_core.errors import UnknownJobKindError
from river_core.insert_opts import InsertOpts
from river_core.job_args import resolve_args_insert


@dataclass(frozen=True, slots=True)
class InsertManyParams:
    """One job of an `insert_many` call with its own options."""

    args: Any
    insert_opts: InsertOpts | None = None


def build_insert_params(
    args: Any, insert_opts: InsertOpts | None, config: Config
) -> JobInsertParams:
    """Validate and encode one job; raises a typed error before anything is sent.

    A client with workers refuses kinds none of them handles (River's check).
    """
    resolved = resolve_args_insert(
        args,
        insert_opts,
        defaults=InsertOpts(max_attempts=config.max_attempts),
        now=datetime.now(UTC),
    )
    if config.workers and config.workers.get(resolved.kind) is None:
        raise UnknownJobKindError(resolved.kind)
    return JobInsertParams(
        kind=resolved.kind,
        encoded_args=resolved.encoded_args,
        queue=resolved.queue,
        priority=resolved.priority,
        max_attempts=resolved.max_attempts,
        metadata=resolved.encoded_metadata,
        state=resolved.state,
        scheduled_at=resolved.scheduled_at,
        tags=tuple(resolved.tags),
        unique_key=resolved.unique_key,
        unique_states=resolved.unique_states,
    )
