"""Hooks: objects called at a point of a job's life (River's `rivertype.Hook*` interfaces).

A hook is any object with one or more of the methods below; it takes part as each one it has.
Hooks are installed globally (`Config.hooks`), per args type (a `hooks` ClassVar on the args
class) and per worker (`Worker.hooks`), and run in that order. Unlike middleware they do not
wrap the step: they run and return.

- `insert_begin(params)`: before a job is inserted (sync, inside the insert's transaction); may
  return replacement `JobInsertParams` (they are frozen); raising fails the whole insert.
- `work_begin(job)`: after the job is locked, before its worker runs (inside the middleware);
  raising fails the attempt without running the worker (and without the `work_end` hooks).
- `work_end(job, error)`: after the worker, with its exception or None; returns the error to
  pass on (the same one, another, or None to turn a failure into a success).

`work_begin` and `work_end` may be `async def`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from river_core.errors import ValidationError

if TYPE_CHECKING:
    from river_core.driver import JobInsertParams
    from river_core.worker import Job

__all__ = [
    "HOOK_METHODS",
    "HookInsertBegin",
    "HookWorkBegin",
    "HookWorkEnd",
    "declared",
    "hooks_of",
    "validate_extensions",
    "validate_hooks",
]

HOOK_METHODS = ("insert_begin", "work_begin", "work_end")


@runtime_checkable
class HookInsertBegin(Protocol):
    def insert_begin(self, params: JobInsertParams) -> JobInsertParams | None: ...


@runtime_checkable
class HookWorkBegin(Protocol):
    def work_begin(self, job: Job[Any]) -> Awaitable[None] | None: ...


@runtime_checkable
class HookWorkEnd(Protocol):
    def work_end(
        self, job: Job[Any], error: BaseException | None
    ) -> BaseException | Awaitable[BaseException | None] | None: ...


def validate_hooks(hooks: object, where: str) -> tuple[object, ...]:
    """`hooks` as a tuple, each implementing at least one hook method (a typed error if not)."""
    return validate_extensions(hooks, where, HOOK_METHODS, "hook")


def hooks_of(owner: object) -> tuple[object, ...]:
    """The `hooks` an args class or a worker declares (validated), or ()."""
    return declared(owner, "hooks", HOOK_METHODS, "hook")


def declared(
    owner: object, attribute: str, methods: Sequence[str], what: str
) -> tuple[object, ...]:
    """The hooks or middleware `owner` (an args class or a worker) declares, validated."""
    name = owner.__name__ if isinstance(owner, type) else type(owner).__name__
    return validate_extensions(getattr(owner, attribute, ()), f"{name}.{attribute}", methods, what)


def validate_extensions(
    items: object, where: str, methods: Sequence[str], what: str
) -> tuple[object, ...]:
    """`items` as a tuple, each with at least one of `methods` (a typed error if not)."""
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ValidationError(where, f"must be a sequence of {what}s, not {type(items).__name__}")
    for item in items:
        if not any(callable(getattr(item, m, None)) for m in methods):
            raise ValidationError(
                where, f"{item!r} is not a {what}: it has none of {', '.join(methods)}"
            )
    return tuple(items)
