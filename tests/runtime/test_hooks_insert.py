"""Insert hooks and insert middleware, on every client variant (psycopg sync, psycopg async,
asyncpg): River's order (global, then per args type), what they may change, and that a
failure anywhere leaves nothing inserted."""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

import river_core as river
from river_core.driver import JobInsertParams
from river_driver_asyncpg import AsyncpgDriver
from river_driver_psycopg import PsycopgDriver

T = TypeVar("T")
CALLS: list[str] = []


class InsertHook:
    """Records `insert_begin`; adds `{name: true}` to the job's metadata."""

    def __init__(self, name: str, *, refuse: bool = False) -> None:
        self.name, self.refuse = name, refuse

    def insert_begin(self, params: JobInsertParams) -> JobInsertParams:
        CALLS.append(f"{self.name}.begin:{params.kind}")
        if self.refuse:
            raise RuntimeError(f"{self.name} refused")
        metadata = json.loads(params.metadata) | {self.name: True}
        return dataclasses.replace(params, metadata=json.dumps(metadata).encode())


class InsertMiddleware:
    """Records around `do_inner`; may raise after it, or raise the priority of every job."""

    def __init__(self, name: str, *, fail_after: bool = False, priority: int | None = None):
        self.name, self.fail_after, self.priority = name, fail_after, priority

    def insert_many(self, params: list[JobInsertParams], do_inner: Callable[[], T]) -> T:
        CALLS.append(f"{self.name}>{len(params)}")
        if self.priority is not None:
            params[:] = [dataclasses.replace(p, priority=self.priority) for p in params]
        result = do_inner()
        CALLS.append(f"<{self.name}")
        if self.fail_after:
            raise RuntimeError(f"{self.name} failed after the insert")
        return result


@dataclass
class HookedArgs:
    n: int = 0
    kind: ClassVar[str] = "insert_hooked"
    hooks: ClassVar[tuple[object, ...]] = (InsertHook("args"),)
    middleware: ClassVar[tuple[object, ...]] = (InsertMiddleware("args_mw"),)


@dataclass
class PlainArgs:
    n: int = 0
    kind: ClassVar[str] = "insert_plain"


@pytest.fixture(autouse=True)
def _clear_calls() -> None:
    CALLS.clear()


@pytest.fixture(params=["psycopg-sync", "psycopg-async", "asyncpg"])
async def make(
    request: pytest.FixtureRequest, database_url: str, sync_engine: sa.Engine, schema: str
) -> AsyncIterator[Callable[..., river.Client | river.AsyncClient]]:
    """Build a client of this variant with the given `Config` arguments."""
    variant = str(request.param)
    rest = database_url.split("://", 1)[1]
    engine = None
    if variant == "psycopg-sync":
        driver: Any = PsycopgDriver(sync_engine, schema=schema)
    else:
        dbapi = "asyncpg" if variant == "asyncpg" else "psycopg"
        engine = create_async_engine(f"postgresql+{dbapi}://{rest}", pool_size=2, max_overflow=2)
        driver_class = AsyncpgDriver if variant == "asyncpg" else PsycopgDriver
        driver = driver_class(engine, schema=schema)

    def build(**config: Any) -> river.Client | river.AsyncClient:
        client_class = river.Client if variant == "psycopg-sync" else river.AsyncClient
        return client_class(driver, river.Config(**config))

    yield build
    if engine is not None:
        await engine.dispose()


async def call(client: river.Client | river.AsyncClient, method: str, *args: Any) -> Any:
    result = getattr(client, method)(*args)
    return await result if inspect.isawaitable(result) else result


async def test_hooks_and_middleware_run_in_order_and_change_the_jobs(make: Any) -> None:
    """Middleware (global, then per args type of the batch) around the hooks (global, then
    the args type's) of each job; their changes are what is inserted; `insert_many_fast`
    goes through them too."""
    client = make(
        hooks=[InsertHook("global")],
        middleware=[InsertMiddleware("global_mw", priority=3)],
    )
    results = await call(client, "insert_many", [HookedArgs(1), PlainArgs(2)])
    assert CALLS == [
        "global_mw>2",
        "args_mw>2",
        "global.begin:insert_hooked",
        "args.begin:insert_hooked",
        "global.begin:insert_plain",
        "<args_mw",
        "<global_mw",
    ]
    hooked, plain = (r.job for r in results)
    assert hooked.metadata == {"global": True, "args": True}
    assert plain.metadata == {"global": True}
    assert hooked.priority == plain.priority == 3

    CALLS.clear()
    assert await call(client, "insert_many_fast", [PlainArgs(3)]) == 1
    assert CALLS == ["global_mw>1", "global.begin:insert_plain", "<global_mw"]
    rows = await call(client, "job_list", river.JobListParams(kinds=["insert_plain"]))
    assert sorted(r.args["n"] for r in rows) == [2, 3]


async def test_a_failing_hook_or_middleware_inserts_nothing(make: Any) -> None:
    """A hook refusing fails before anything is sent; a middleware failing after `do_inner`
    rolls the insert back, even for a single insert (never autocommitted then)."""
    refusing = make(hooks=[InsertHook("refusing", refuse=True)])
    with pytest.raises(RuntimeError, match="refusing refused"):
        await call(refusing, "insert", PlainArgs())
    failing = make(middleware=[InsertMiddleware("failing", fail_after=True)])
    with pytest.raises(RuntimeError, match="failed after the insert"):
        await call(failing, "insert", PlainArgs())
    with pytest.raises(RuntimeError, match="failed after the insert"):
        await call(failing, "insert_many_fast", [PlainArgs(), PlainArgs()])
    assert CALLS.count("<failing") == 2
    assert await call(make(), "job_list", river.JobListParams()) == []


async def test_kind_aliases_insert_under_the_main_kind(make: Any) -> None:
    """Args with `kind_aliases` are inserted under their own kind, never an alias."""

    @dataclass
    class RenamedArgs:
        kind: ClassVar[str] = "renamed_new"
        kind_aliases: ClassVar[tuple[str, ...]] = ("renamed_old",)

    result = await call(make(), "insert", RenamedArgs())
    assert result.job.kind == "renamed_new"
