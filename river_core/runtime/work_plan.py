"""What working a job of one kind takes, resolved once per kind: its worker, whether `work` is
async, and its work hooks and middleware in River's order (nothing to do per job when a kind
has none)."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from river_core.hooks import hooks_of
from river_core.middleware import middleware_of
from river_core.worker import Worker, Workers


@dataclass(frozen=True, slots=True)
class WorkPlan:
    worker: Worker[Any]
    is_async: bool
    work_begin: tuple[Any, ...]  # hooks: global, then the args type's, then the worker's
    work_end: tuple[Any, ...]
    middleware: tuple[Any, ...]  # outermost first: the worker's, global, the args type's
    plain: bool  # no hooks and no middleware: the worker is called directly


class WorkPlans:
    """The plan of each kind, built on first use (None for a kind without a worker)."""

    def __init__(
        self, workers: Workers, hooks: Sequence[object] = (), middleware: Sequence[object] = ()
    ) -> None:
        self._workers = workers
        self._hooks = tuple(hooks)
        self._middleware = tuple(middleware)
        self.by_kind: dict[str, WorkPlan] = {}

    def build(self, kind: str) -> WorkPlan | None:
        worker = self._workers.get(kind)
        if worker is None:
            return None
        args_type = worker.args_type
        hooks = (*self._hooks, *hooks_of(args_type), *hooks_of(worker))
        begin = tuple(h for h in hooks if callable(getattr(h, "work_begin", None)))
        end = tuple(h for h in hooks if callable(getattr(h, "work_end", None)))
        middleware = tuple(
            m
            for m in (*middleware_of(worker), *self._middleware, *middleware_of(args_type))
            if callable(getattr(m, "work", None))
        )
        plan = WorkPlan(
            worker=worker,
            is_async=inspect.iscoroutinefunction(worker.work),
            work_begin=begin,
            work_end=end,
            middleware=middleware,
            plain=not (begin or end or middleware),
        )
        self.by_kind[kind] = plan
        return plan
