"""The insert side of hooks and middleware: `insert_begin` hooks inside `insert_many` middleware
around one batch insert, in River's order (see `river_core.hooks`, `river_core.middleware`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from river_core.driver import JobInsertParams
from river_core.hooks import hooks_of
from river_core.middleware import middleware_of

T = TypeVar("T")

_Extensions = tuple[tuple[Any, ...], tuple[Any, ...]]  # (insert_begin hooks, insert middleware)


def _insert_extensions(hooks: Sequence[object], middleware: Sequence[object]) -> _Extensions:
    return (
        tuple(h for h in hooks if callable(getattr(h, "insert_begin", None))),
        tuple(m for m in middleware if callable(getattr(m, "insert_many", None))),
    )


class InsertChain:
    """A client's insert hooks and middleware: its own, and those of each args type (cached)."""

    def __init__(self, hooks: Sequence[object], middleware: Sequence[object]) -> None:
        self._global = _insert_extensions(hooks, middleware)
        self._by_type: dict[type[Any], _Extensions] = {}

    def _of_type(self, args_type: type[Any]) -> _Extensions:
        found = self._by_type.get(args_type)
        if found is None:
            found = _insert_extensions(hooks_of(args_type), middleware_of(args_type))
            self._by_type[args_type] = found
        return found

    def runner(self, args_types: Mapping[str, type[Any]]) -> InsertRunner | None:
        """How to insert a batch of these args types (by kind) through the hooks and
        middleware, or None when there are none: the caller then inserts directly."""
        hooks_by_kind: dict[str, tuple[Any, ...]] = {}
        middleware = list(self._global[1])
        for kind, args_type in args_types.items():
            type_hooks, type_middleware = self._of_type(args_type)
            if type_hooks:
                hooks_by_kind[kind] = type_hooks
            middleware += type_middleware
        global_hooks = self._global[0]
        if not (global_hooks or hooks_by_kind or middleware):
            return None

        def run(
            params: list[JobInsertParams], do_insert: Callable[[list[JobInsertParams]], T]
        ) -> T:
            def inner() -> T:
                for i, p in enumerate(params):
                    for hook in (*global_hooks, *hooks_by_kind.get(p.kind, ())):
                        replaced = hook.insert_begin(p)
                        if replaced is not None:
                            params[i] = p = replaced
                return do_insert(params)

            call = inner
            for m in reversed(middleware):
                call = _bind(m, params, call)
            return call()

        return run


class InsertRunner(Protocol):
    def __call__(
        self, params: list[JobInsertParams], do_insert: Callable[[list[JobInsertParams]], T]
    ) -> T: ...


def _bind(
    middleware: Any, params: list[JobInsertParams], inner: Callable[[], T]
) -> Callable[[], T]:
    return lambda: middleware.insert_many(params, inner)
