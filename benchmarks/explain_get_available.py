"""EXPLAIN (ANALYZE, BUFFERS) of `job_get_available` on a large, mostly idle `river_job`.

    python benchmarks/explain_get_available.py [--url postgresql://postgres@127.0.0.1:5432/postgres]
        [--finalized 500000] [--future 500000] [--available 1000] [--batch 100] [--keep]

Loads a scratch schema (created, migrated and dropped here) with `--finalized` completed,
cancelled and discarded jobs, `--future` scheduled/retryable/available jobs due later, and
`--available` due jobs spread over priorities and two queues; then prints the plan of the exact
statement the SqlExecutor sends for one fetch of `--batch` jobs (run in a rolled-back
transaction) and a summary of the index scan: the rows it returned and the buffers it touched.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import make_url

from river_core import migrate
from river_core.driver import JobGetAvailableParams
from river_core.driver.sql_executor import SqlExecutor
from river_core.driver.tables import JOB_STATE, TIMESTAMPTZ, river_job

SCHEMA = "river_explain_get_available"


class CapturingExecutor(SqlExecutor):
    """A SqlExecutor that remembers the last statement it executed."""

    statement: sa.Executable | None = None

    def _execute(self, stmt: sa.Executable) -> sa.CursorResult[*tuple[Any, ...]]:
        self.statement = stmt
        return super()._execute(stmt)


def load(conn: sa.Connection, count: int, state: str, scheduled: Any, **extra: Any) -> None:
    """Insert `count` jobs server-side (generate_series); `scheduled` may use the series `n`."""
    n = sa.func.generate_series(1, count).table_valued("n").render_derived()
    columns = {
        "args": sa.cast(sa.func.json_build_object("n", n.c.n), pg.JSONB),
        "kind": sa.literal("bench_explain"),
        "queue": sa.case((n.c.n % 2 == 0, "default"), else_="other"),
        "priority": sa.cast(n.c.n % 4 + 1, sa.SmallInteger),
        "state": sa.cast(sa.literal(state), JOB_STATE),
        "scheduled_at": scheduled(n.c.n),
        **{name: value(n.c.n) for name, value in extra.items()},
    }
    select = sa.select(*(sa.cast(v, river_job.c[k].type) for k, v in columns.items()))
    conn.execute(
        sa.insert(river_job).from_select(list(columns), select.select_from(n)),
        execution_options={"schema_translate_map": {None: SCHEMA}},
    )


def populate(engine: sa.Engine, finalized: int, future: int, available: int) -> None:
    now = datetime.now(UTC)

    def ago(n: Any) -> Any:
        return sa.literal(now, TIMESTAMPTZ) - sa.func.make_interval(0, 0, 0, 0, 0, 0, n)

    def ahead(n: Any) -> Any:
        return sa.literal(now, TIMESTAMPTZ) + sa.func.make_interval(0, 0, 0, 0, 0, 0, n)

    with engine.begin() as conn:
        for state, share in (("completed", 0.8), ("cancelled", 0.1), ("discarded", 0.1)):
            load(conn, int(finalized * share), state, ago, finalized_at=ago)
        for state, share in (("scheduled", 0.6), ("retryable", 0.3), ("available", 0.1)):
            load(conn, int(future * share), state, ahead)
        load(conn, available, "available", ago)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f"VACUUM ANALYZE {SCHEMA}.river_job"))


def explain(engine: sa.Engine, batch: int) -> list[str]:
    """The text plan of one job_get_available of `batch` jobs (each run rolled back)."""
    params = JobGetAvailableParams(client_id="explainer", queue="default", max_to_lock=batch)
    with engine.connect() as conn:
        executor = CapturingExecutor(conn, SCHEMA)
        assert len(executor.job_get_available(params)) == batch
        conn.rollback()
        assert executor.statement is not None
        compiled = executor.statement.compile(
            dialect=conn.dialect, schema_translate_map={None: SCHEMA}, render_schema_translate=True
        )
        plans = {}
        for options in ("ANALYZE, BUFFERS, FORMAT JSON", "ANALYZE, BUFFERS"):
            sql = f"EXPLAIN ({options}) {compiled}"
            plans[options] = [row[0] for row in conn.exec_driver_sql(sql, compiled.params)]
            conn.rollback()
    summarize(plans["ANALYZE, BUFFERS, FORMAT JSON"][0])
    return plans["ANALYZE, BUFFERS"]


def summarize(plan: Any) -> None:
    """Print each index scan of the plan: index, rows returned, buffers touched (all loops)."""
    stack = [(json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]]
    while stack:
        node = stack.pop()
        stack.extend(node.get("Plans", ()))
        if "Index" in node["Node Type"]:
            buffers = node.get("Shared Hit Blocks", 0) + node.get("Shared Read Blocks", 0)
            print(
                f"{node['Node Type']} on {node.get('Index Name')}: {node['Actual Loops']} loop(s) "
                f"of {node['Actual Rows']} row(s), {buffers} buffers"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--url",
        default=os.environ.get("RIVER_BENCH_URL", "postgresql://postgres@127.0.0.1:5432/postgres"),
    )
    parser.add_argument("--finalized", type=int, default=500_000)
    parser.add_argument("--future", type=int, default=500_000)
    parser.add_argument("--available", type=int, default=1_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the scratch schema")
    args = parser.parse_args()

    engine = sa.create_engine(make_url(args.url).set(drivername="postgresql+psycopg"))
    with engine.begin() as conn:
        conn.execute(sa.schema.DropSchema(SCHEMA, cascade=True, if_exists=True))
        conn.execute(sa.schema.CreateSchema(SCHEMA))
    try:
        with engine.connect() as conn:
            migrate.upgrade(conn, schema=SCHEMA)
        started = datetime.now(UTC)
        populate(engine, args.finalized, args.future, args.available)
        loaded = datetime.now(UTC) - started
        print(
            f"{args.finalized} finalized + {args.future} future + {args.available} due jobs "
            f"loaded in {loaded / timedelta(seconds=1):.1f} s; batch of {args.batch}:\n"
        )
        print("\n".join(explain(engine, args.batch)))
    finally:
        if not args.keep:
            with engine.begin() as conn:
                conn.execute(sa.schema.DropSchema(SCHEMA, cascade=True, if_exists=True))
        engine.dispose()


if __name__ == "__main__":
    main()
