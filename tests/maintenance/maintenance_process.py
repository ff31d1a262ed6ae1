"""One client process for the multi-process maintenance tests and the failover benchmark.

    python maintenance_process.py --url URL --schema S --id ID --log FILE
        [--queues default,slow] [--intervals short|river] [--elect-interval S]
        [--periodic-interval S]

Runs an AsyncClient until SIGTERM (a clean stop) or SIGKILL, and appends JSON lines to
`--log`: `ready`, `gained` / `stopped` (leadership, from the elector's log), `run` (each
maintenance run: service, start, end, counts), `job_started` / `job_done` (the `hang` worker:
its first attempt hangs, later attempts return), `exited`. Times are `time.time()`.
`--periodic-interval` adds the periodic job `tick` (a `tick` job every S seconds, worked at once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, TextIO

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

import river_core as river
from river_driver_asyncpg import AsyncpgDriver

SHORT = {
    "leader_elect_interval": 0.5,
    "leader_ttl_padding": 1.0,
    "scheduler_interval": 0.1,
    "job_cleaner_interval": 0.1,
    "rescuer_interval": 0.1,
    "queue_cleaner_interval": 0.1,
    "rescue_stuck_jobs_after": 1.0,
    "job_timeout": 1.0,
    "fetch_poll_interval": 0.2,
}


@dataclass
class HangArgs:
    kind: ClassVar[str] = "hang"


@dataclass
class TickArgs:
    kind: ClassVar[str] = "tick"


class TickWorker(river.Worker[TickArgs]):
    async def work(self, job: river.Job[TickArgs]) -> None:
        return None


class EventLog:
    """JSON lines, one per event, flushed at once (the process may be killed any time)."""

    def __init__(self, out: TextIO, client_id: str) -> None:
        self._out = out
        self._client_id = client_id

    def write(self, event: str, at: float | None = None, **fields: Any) -> None:
        line = {"event": event, "client": self._client_id, "at": at or time.time(), **fields}
        self._out.write(json.dumps(line) + "\n")
        self._out.flush()


class EventHandler(logging.Handler):
    """Turns the elector's and the maintenance services' log records into events."""

    def __init__(self, events: EventLog) -> None:
        super().__init__(logging.DEBUG)
        self._events = events

    def emit(self, record: logging.LogRecord) -> None:
        service = getattr(record, "river_service", None)
        if service is not None:
            self._events.write(
                "run",
                service=service,
                start=record.river_run_start,  # type: ignore[attr-defined]
                end=record.river_run_end,  # type: ignore[attr-defined]
                counts=record.river_counts,  # type: ignore[attr-defined]
                error=record.river_error,  # type: ignore[attr-defined]
            )
        elif record.name == "river.elector":
            message = record.getMessage()
            if "gained leadership" in message:
                self._events.write("gained", at=record.created)
            elif "stopped leading" in message:
                self._events.write("stopped", at=record.created)


class HangWorker(river.Worker[HangArgs]):
    def __init__(self, events: EventLog) -> None:
        self._events = events

    async def work(self, job: river.Job[HangArgs]) -> None:
        self._events.write("job_started", job_id=job.id, attempt=job.attempt)
        if job.attempt == 1:
            await asyncio.sleep(3600)
        self._events.write("job_done", job_id=job.id, attempt=job.attempt)


async def main(args: argparse.Namespace, events: EventLog) -> None:
    url = make_url(args.url).set(drivername="postgresql+asyncpg")
    engine = create_async_engine(url, pool_size=2, max_overflow=3)
    workers = river.Workers()
    workers.add(HangWorker(events))
    periodic_jobs = []
    if args.periodic_interval is not None:
        workers.add(TickWorker())
        interval = river.interval_schedule(timedelta(seconds=args.periodic_interval))
        periodic_jobs.append(river.PeriodicJob(interval, TickArgs, id="tick"))
    timings: dict[str, Any] = dict(SHORT) if args.intervals == "short" else {}
    if args.elect_interval is not None:
        timings["leader_elect_interval"] = args.elect_interval
    client = river.AsyncClient(
        AsyncpgDriver(engine, schema=args.schema),
        river.Config(
            id=args.id,
            queues={q: river.QueueConfig(max_workers=5) for q in args.queues.split(",")},
            workers=workers,
            reindexer_enabled=False,
            periodic_jobs=periodic_jobs,
            **timings,
        ),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await client.start()
    events.write("ready")
    await stop.wait()
    await client.stop_and_cancel()
    await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--schema", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--queues", default="default")
    parser.add_argument("--intervals", choices=("short", "river"), default="short")
    parser.add_argument("--elect-interval", type=float, default=None)
    parser.add_argument("--periodic-interval", type=float, default=None)
    arguments = parser.parse_args()
    with open(arguments.log, "a") as out:
        log = EventLog(out, arguments.id)
        logger = logging.getLogger("river")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(EventHandler(log))
        asyncio.run(main(arguments, log))
        log.write("exited")
