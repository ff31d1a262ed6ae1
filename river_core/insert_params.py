"""From args and options to the driver's insert parameters (validated, encoded, keyed)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from river_core.config import Config
from river_core.driver import JobInsertParams
from river_core.errors import UnknownJobKindError
from river_core.insert_opts import InsertOpts, resolve_insert
from river_core.job_args import args_insert_opts, args_kind, args_to_json_bytes


@dataclass(frozen=True, slots=True)
class InsertManyParams:
    """One job of an `insert_many` call with its own options."""

    args: Any
    insert_opts: InsertOpts | None = None


def build_insert_params(
    args: Any, insert_opts: InsertOpts | None, config: Config
) -> JobInsertParams:
    """Validate and encode one job; raises a typed error before anything is sent."""
    return build_insert_params_many([(args, insert_opts)], config)[0]


def build_insert_params_many(
    items: Iterable[tuple[Any, InsertOpts | None]],
    config: Config,
    args_types: dict[str, type[Any]] | None = None,
) -> list[JobInsertParams]:
    """Validate and encode jobs, all at one `now`; raises a typed error before anything is sent.

    Jobs of one kind given the same options objects share one resolution of those options (what
    is valid for one is valid for all), so a batch costs about one args encoding per job; a
    unique job, whose key depends on its args, is resolved alone. A client with workers refuses
    kinds none of them handles (River's check). `args_types`, if given, receives the args
    class of each kind (for the insert hooks and middleware declared on it).
    """
    now = datetime.now(UTC)
    defaults = InsertOpts(max_attempts=config.max_attempts)
    shared: dict[tuple[str, int, int], JobInsertParams] = {}
    alive: list[InsertOpts | None] = []  # options objects stay alive: no id is reused
    out: list[JobInsertParams] = []
    for args, opts in items:
        args_opts = args_insert_opts(args)
        alive += (opts, args_opts)
        kind = getattr(args, "kind", None)
        key = (kind, id(opts), id(args_opts)) if isinstance(kind, str) else None
        template = shared.get(key) if key is not None else None
        if template is not None:
            encoded = args_to_json_bytes(args)
            # Params are immutable: identical jobs share one object.
            out.append(
                template if encoded == template.encoded_args else _with_args(template, encoded)
            )
            continue
        resolved = resolve_insert(
            args_kind(args),
            args_to_json_bytes(args),
            opts,
            args_opts=args_opts,
            defaults=defaults,
            now=now,
        )
        if config.workers and config.workers.get(resolved.kind) is None:
            raise UnknownJobKindError(resolved.kind)
        if args_types is not None:
            args_types[resolved.kind] = type(args)
        params = JobInsertParams(
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
        if key is not None and params.unique_key is None:
            shared[key] = params
        out.append(params)
    return out


def _with_args(template: JobInsertParams, encoded_args: bytes) -> JobInsertParams:
    """`template` (resolved options of a non-unique job) with other args."""
    return JobInsertParams(
        kind=template.kind,
        encoded_args=encoded_args,
        queue=template.queue,
        priority=template.priority,
        max_attempts=template.max_attempts,
        metadata=template.metadata,
        state=template.state,
        scheduled_at=template.scheduled_at,
        tags=template.tags,
    )
