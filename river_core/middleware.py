"""Middleware: objects that wrap a step of a job's life (River's `JobInsertMiddleware` and
`WorkerMiddleware`).

A middleware is any object with one or both of the methods below and must call `do_inner()`
to go on down the stack. It is installed globally (`Config.middleware`), per args type (a
`middleware` ClassVar on the args class) and per worker (`Worker.middleware`).

- `insert_many(params, do_inner)`: around a batch insert (sync, inside the insert's
  transaction). `params` is the batch as a list the middleware may change in place (items are
  frozen: replace them); `do_inner()` runs the insert hooks and the insert and returns its
  result, which the middleware returns. Order: global, then per args type (first appearance in
  the batch); the first is outermost. Raising fails the insert, even after `do_inner()`.
- `async work(job, do_inner)`: around working a job (the `work_begin` hooks, the worker, the
  `work_end` hooks); `await do_inner()` raises the job's error. Order, as River's: the
  worker's first (outermost), then the global ones, then the args type's.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from river_core.hooks import declared, validate_extensions

if TYPE_CHECKING:
    from river_core.driver import JobInsertParams
    from river_core.worker import Job

__all__ = [
    "MIDDLEWARE_METHODS",
    "InsertMiddleware",
    "WorkerMiddleware",
    "middleware_of",
    "validate_middleware",
]

T = TypeVar("T")
MIDDLEWARE_METHODS = ("insert_many", "work")


@runtime_checkable
class InsertMiddleware(Protocol):
    def insert_many(self, params: list[JobInsertParams], do_inner: Callable[[], T]) -> T: ...


@runtime_checkable
class WorkerMiddleware(Protocol):
    def work(self, job: Job[Any], do_inner: Callable[[], Awaitable[None]]) -> Awaitable[None]: ...


def validate_middleware(middleware: object, where: str) -> tuple[object, ...]:
    """`middleware` as a tuple, each implementing at least one middleware method."""
    return validate_extensions(middleware, where, MIDDLEWARE_METHODS, "middleware")


def middleware_of(owner: object) -> tuple[object, ...]:
    """The `middleware` an args class or a worker declares (validated), or ()."""
    return declared(owner, "middleware", MIDDLEWARE_METHODS, "middleware")
