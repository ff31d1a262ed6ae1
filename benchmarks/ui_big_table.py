"""The dashboard on a big `river_job`: request timings and the plan of every query it sends.

    python benchmarks/ui_big_table.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
        [--rows 1000000] [--reps 5] [--keep] [--reuse]

Loads a scratch schema (created, migrated and, unless --keep, dropped here) with `--rows` jobs
laid out as a long-running service leaves them: ids in time order, the oldest 90% finalized
(94% completed, 3% discarded, 3% cancelled), the newest 10% available, scheduled, retryable,
pending and running, over 20 kinds and 10 queues. Then:

1. times each dashboard request in-process (Starlette's test client: routing, queries,
   rendering), median [min-max] of `--reps`, twice: with the count cache as it runs (counts
   at most every few seconds) and with it disabled (every request counts: the worst case);
   "deep" pages start from a cursor 80% of the way through the state's list;
2. prints `EXPLAIN (ANALYZE, BUFFERS)` of every statement those requests send, and checks that
   none reads the whole table (no sequential scan of river_job, no index scan returning more
   than the page size or the count cap).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from starlette.testclient import TestClient

from river_core import admin, migrate
from river_core.driver import JobKindListParams, JobListOrderBy, QueueCreateOrSetUpdatedAtParams
from river_core.driver.sql_executor import SqlExecutor
from river_core.driver.tables import JOB_STATE, river_job
from river_core.job import JobState
from river_core.ui import counts as ui_counts
from river_core.ui import create_app
from river_core.ui.listing import JobFilters, encode_cursor, order_of
from river_driver_psycopg import PsycopgDriver

SCHEMA = "river_ui_big_table"
PAGE = 20


class CapturingExecutor(SqlExecutor):
    """A SqlExecutor that keeps every statement it executes."""

    def __init__(self, conn: sa.Connection, schema: str | None) -> None:
        super().__init__(conn, schema)
        self.statements: list[sa.Executable] = []

    def _execute(self, stmt: sa.Executable) -> sa.CursorResult[Any]:
        self.statements.append(stmt)
        return super()._execute(stmt)


def populate(engine: sa.Engine, rows: int) -> None:
    """`rows` jobs, ids in time order, inserted server-side (generate_series)."""
    n = sa.func.generate_series(1, rows).table_valued("n").render_derived()
    old = int(rows * 0.9)
    recent = n.c.n - old  # 1.. over the newest 10%
    share = recent * 100 / (rows - old)  # 0..100 over the newest 10%
    state = sa.case(
        (sa.and_(n.c.n <= old, n.c.n % 100 < 94), "completed"),
        (sa.and_(n.c.n <= old, n.c.n % 100 < 97), "discarded"),
        (n.c.n <= old, "cancelled"),
        (share <= 60, "available"),
        (share <= 75, "scheduled"),
        (share <= 85, "retryable"),
        (share <= 95, "pending"),
        else_="running",
    )
    now = sa.func.now()
    at = now - sa.func.make_interval(0, 0, 0, 0, 0, 0, rows - n.c.n)  # one job a second
    future = now + sa.func.make_interval(0, 0, 0, 0, 0, 0, n.c.n % 3600 + 60)
    final = n.c.n <= old
    columns = {
        "args": sa.cast(sa.func.json_build_object("n", n.c.n, "user", n.c.n % 9973), pg.JSONB),
        "kind": sa.func.concat("kind_", n.c.n % 20),
        "queue": sa.func.concat("queue_", n.c.n % 10),
        "priority": sa.cast(n.c.n % 4 + 1, sa.SmallInteger),
        "state": sa.cast(state, JOB_STATE),
        "created_at": at,
        "scheduled_at": sa.case((share.between(61, 85), future), else_=at),
        "attempt": sa.cast(sa.case((final, 1), (share > 95, 1), else_=0), sa.SmallInteger),
        "attempted_at": sa.case((sa.or_(final, share > 95), at)),
        "finalized_at": sa.case((final, at + sa.func.make_interval(0, 0, 0, 0, 0, 0, 1))),
        "tags": sa.cast(
            sa.func.array_remove(pg.array([sa.func.concat("t", n.c.n % 7)]), "t0"),
            pg.ARRAY(sa.VARCHAR(255)),
        ),
    }
    select = sa.select(*(sa.cast(v, river_job.c[k].type) for k, v in columns.items()))
    with engine.begin() as conn:
        conn.execute(
            sa.insert(river_job).from_select(list(columns), select.select_from(n)),
            execution_options={"schema_translate_map": {None: SCHEMA}},
        )
        ex = SqlExecutor(conn, SCHEMA)
        for i in range(10):
            ex.queue_create_or_set_updated_at(QueueCreateOrSetUpdatedAtParams(f"queue_{i}"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"VACUUM ANALYZE {SCHEMA}.river_job"))


def cursor_at(engine: sa.Engine, state: JobState, depth: float) -> str:
    """The cursor of the page `depth` (0..1) of the way through a state's list (found with an
    OFFSET scan here, in the setup: the dashboard itself never offsets)."""
    c = river_job.c
    order_by, descending = order_of(state)
    columns = {
        JobListOrderBy.FINALIZED_AT: [c.finalized_at, c.id],
        JobListOrderBy.ATTEMPTED_AT: [c.attempted_at, c.id],
        JobListOrderBy.QUEUE_PRIORITY_SCHEDULED_AT: [c.queue, c.priority, c.scheduled_at, c.id],
    }[order_by]
    options = {"schema_translate_map": {None: SCHEMA}}
    with engine.connect() as conn:
        ex = SqlExecutor(conn, SCHEMA)
        offset = int(ex.job_count_by_state(state) * depth)
        stmt = (
            sa.select(c.id)
            .where(c.state == sa.cast(sa.literal(state.value), JOB_STATE))
            .order_by(*(col.desc() if descending else col for col in columns))
            .offset(offset)
            .limit(1)
        )
        job = admin.job_get(ex, conn.execute(stmt, execution_options=options).scalar_one())
    return encode_cursor(state, job)


def timed(call: Callable[[], Any], reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return times


def measure(url: str, requests: dict[str, str], reps: int, cache: bool) -> dict[str, list[float]]:
    """Milliseconds of each request, `reps` times, through the whole app in-process."""
    ui_counts.CACHE_SECONDS = 3.0 if cache else 0.0
    engine = create_async_engine(make_url(url).set(drivername="postgresql+psycopg"), pool_size=2)
    app = create_app(PsycopgDriver(engine, schema=SCHEMA))
    results = {}
    with TestClient(app) as client:
        for name, path in requests.items():
            response = client.get(path)  # warm the connection pool, templates, plans
            assert response.status_code == 200, (path, response.text[:300])
            results[name] = timed(lambda path=path: client.get(path), reps)
        client.portal.call(engine.dispose)
    return results


def statements(engine: sa.Engine, cursors: dict[JobState, str], job_id: int) -> dict[str, Any]:
    """The statements the dashboard's requests send, by what they serve."""
    calls: dict[str, Callable[[SqlExecutor], Any]] = {}
    for state in (JobState.COMPLETED, JobState.AVAILABLE, JobState.RUNNING):
        filters = JobFilters(state=state)
        calls[f"{state.value} page 1"] = lambda ex, f=filters: ex.job_list(f.list_params(PAGE + 1))
        if state in cursors:
            calls[f"{state.value} deep page"] = lambda ex, f=filters, s=state: ex.job_list(
                f.list_params(PAGE + 1, cursors[s])
            )
    kind = JobFilters(state=JobState.COMPLETED, kinds=("kind_7",))
    calls["completed, kind filter"] = lambda ex: ex.job_list(kind.list_params(PAGE + 1))
    calls["counts (capped per state)"] = lambda ex: ex.job_count_by_all_states(
        limit=ui_counts.COUNT_LIMIT
    )
    calls["counts (estimate)"] = lambda ex: ex.job_count_estimate_by_state()
    calls["queue list"] = lambda ex: ex.queue_list(100)
    calls["queue list counts (capped)"] = lambda ex: ex.job_count_by_queue_and_state(
        [f"queue_{i}" for i in range(10)], limit=ui_counts.QUEUE_COUNT_LIMIT
    )
    calls["queue page counts (capped)"] = lambda ex: ex.job_count_by_queue_and_state(
        ["queue_3"], limit=ui_counts.COUNT_LIMIT
    )
    calls["kind autocomplete"] = lambda ex: ex.job_kind_list(JobKindListParams(match="1"))
    calls["job"] = lambda ex: admin.job_get(ex, job_id)
    captured = {}
    with engine.connect() as conn:
        for name, call in calls.items():
            ex = CapturingExecutor(conn, SCHEMA)
            call(ex)
            captured[name] = ex.statements
    return captured


def explain(engine: sa.Engine, stmt: sa.Executable) -> tuple[list[str], int]:
    """The text plan of a statement, and the most rows any one node of it read (returned plus
    removed by a filter, over all loops)."""
    with engine.connect() as conn:
        compiled = stmt.compile(  # type: ignore[attr-defined]
            dialect=conn.dialect, schema_translate_map={None: SCHEMA}, render_schema_translate=True
        )
        sql, params = str(compiled), compiled.params
        text = [r[0] for r in conn.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)]
        (plan,) = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, FORMAT JSON) {sql}", params).one()
        conn.rollback()
    most = 0
    stack = [(json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]]
    while stack:
        node = stack.pop()
        stack.extend(node.get("Plans", ()))
        if "Scan" in node["Node Type"]:
            read = node["Actual Rows"] + node.get("Rows Removed by Filter", 0)
            most = max(most, read * node["Actual Loops"])
    return text, most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("RIVER_BENCH_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="keep the scratch schema")
    parser.add_argument("--reuse", action="store_true", help="reuse a kept scratch schema")
    args = parser.parse_args()

    engine = sa.create_engine(make_url(args.url).set(drivername="postgresql+psycopg"))
    reuse = args.reuse and sa.inspect(engine).has_schema(SCHEMA)
    if not reuse:
        with engine.begin() as conn:
            conn.execute(sa.schema.DropSchema(SCHEMA, cascade=True, if_exists=True))
            conn.execute(sa.schema.CreateSchema(SCHEMA))
    try:
        if not reuse:
            with engine.connect() as conn:
                migrate.upgrade(conn, schema=SCHEMA)
            started = time.perf_counter()
            populate(engine, args.rows)
            print(f"{args.rows:,} jobs loaded in {time.perf_counter() - started:.1f} s\n")
        with engine.connect() as conn:
            counted = SqlExecutor(conn, SCHEMA).job_count_by_all_states()
        print("jobs by state:", ", ".join(f"{s.value} {n:,}" for s, n in counted.items()))
        cursors = {s: cursor_at(engine, s, 0.8) for s in (JobState.COMPLETED, JobState.AVAILABLE)}
        job_id = args.rows // 2
        requests = {
            "GET /jobs?state=completed (page 1)": "/jobs?state=completed",
            "GET /jobs?state=completed (deep cursor, 80%)": "/jobs?"
            + urlencode({"state": "completed", "after": cursors[JobState.COMPLETED]}),
            "GET /jobs?state=available (page 1)": "/jobs?state=available",
            "GET /jobs?state=available (deep cursor, 80%)": "/jobs?"
            + urlencode({"state": "available", "after": cursors[JobState.AVAILABLE]}),
            "GET /jobs?state=completed&kinds=kind_7": "/jobs?state=completed&kinds=kind_7",
            "GET /api/jobs?state=completed": "/api/jobs?state=completed",
            f"GET /jobs/{job_id}": f"/jobs/{job_id}",
            "GET / (overview)": "/",
            "GET /api/states": "/api/states",
            "GET /queues": "/queues",
            "GET /queues/queue_3": "/queues/queue_3",
            "GET /api/autocomplete?facet=job_kind": "/api/autocomplete?facet=job_kind&match=1",
        }
        for cache in (True, False):
            title = "count cache on (as served)" if cache else "count cache off (worst case)"
            print(f"\n== request timings, ms, median [min-max] of {args.reps}; {title}")
            for name, times in measure(args.url, requests, args.reps, cache).items():
                print(
                    f"{name:<52} {statistics.median(times):7.1f}"
                    f"  [{min(times):.1f}-{max(times):.1f}]"
                )
        print("\n== EXPLAIN (ANALYZE, BUFFERS) of every statement")
        summary = []
        for name, stmts in statements(engine, cursors, job_id).items():
            for stmt in stmts:
                plan, most = explain(engine, stmt)
                print(f"\n-- {name}: at most {most:,} rows read by one scan")
                print("\n".join(plan))
                summary.append((name, most))
        print(f"\n== rows read by the largest scan of each statement (table: {args.rows:,} jobs)")
        for name, most in summary:
            print(f"{name:<40} {most:>9,}")
        worst = max(most for _, most in summary)
        print(f"largest: {worst:,} rows ({worst / args.rows:.1%} of the table)")
    finally:
        if not args.keep:
            with engine.begin() as conn:
                conn.execute(sa.schema.DropSchema(SCHEMA, cascade=True, if_exists=True))
        engine.dispose()


if __name__ == "__main__":
    main()
