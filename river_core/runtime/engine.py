"""The running part of an AsyncClient: producers, notifier, completer, queue keeper, and the
elector with the maintenance services it runs while this client leads."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from river_core.config import Config
from river_core.driver import (
    TOPIC_CONTROL,
    TOPIC_INSERT,
    TOPIC_LEADERSHIP,
    Driver,
    Executor,
    JobSetStateIfRunningParams,
    Queue,
    QueueCreateOrSetUpdatedAtParams,
)
from river_core.events import Event, EventKind, Subscriptions
from river_core.job import JobRow
from river_core.maintenance import (
    JobCleaner,
    Maintainer,
    MaintenanceService,
    PeriodicJobEnqueuer,
    QueueCleaner,
    Reindexer,
    Rescuer,
    Scheduler,
)
from river_core.periodic_job import PeriodicJobBundle
from river_core.runtime.completer import Completer
from river_core.runtime.db import run_in_tx
from river_core.runtime.elector import Elector
from river_core.runtime.job_events import JobEventFeed
from river_core.runtime.job_executor import ExecutorSettings, ThreadRunner
from river_core.runtime.notifier import Notifier
from river_core.runtime.producer import Producer

log = logging.getLogger("river.client")

QUEUE_POLL_INTERVAL = 2.0  # poll-only mode: how often queue pause states are read
QUEUE_REPORT_INTERVAL = 600.0  # how often a worked queue's `updated_at` is refreshed (River)


def _queue_report(ex: Executor, *, params: QueueCreateOrSetUpdatedAtParams) -> Queue:
    return ex.queue_create_or_set_updated_at(params)


class Engine:
    """Everything that runs while a client is started; built by `start`, torn down by `stop`."""

    def __init__(
        self,
        driver: Driver,
        config: Config,
        next_retry: Callable[[JobRow], datetime],
        *,
        events: Subscriptions | None = None,
        on_job_done: Callable[[JobRow, JobSetStateIfRunningParams | None], None] | None = None,
        periodic_jobs: PeriodicJobBundle | None = None,
    ) -> None:
        self.driver = driver
        self.config = config
        self.events = events if events is not None else Subscriptions()
        self._settings = ExecutorSettings(
            workers=config.workers,
            job_timeout=config.job_timeout,
            scheduler_interval=config.scheduler_interval,
            next_retry=next_retry,
            hooks=config.hooks,
            middleware=config.middleware,
            error_handler=config.error_handler,
            driver=driver,
        )
        feed = JobEventFeed(self.events, self._settings)
        self.events.on_change = feed.follow
        feed.follow()
        self.completer = Completer(
            driver,
            flush_interval=config.completer_flush_interval,
            max_batch=config.completer_max_batch,
            on_written=feed.on_written,
            wants_rows=lambda: self.events.wants_job_events,
        )
        self._threads = ThreadRunner(config.sync_worker_threads)
        self._on_job_done = on_job_done
        self.producers: dict[str, Producer] = {}
        self.notifier: Notifier | None = None
        if periodic_jobs is None:
            periodic_jobs = PeriodicJobBundle(config.periodic_jobs)
        self.maintainer = Maintainer(
            _maintenance_services(driver, config, next_retry, periodic_jobs)
        )
        self.elector = Elector(
            driver,
            config.id,
            interval=config.leader_elect_interval,
            ttl_padding=config.leader_ttl_padding,
            on_gained=lambda: self.maintainer.start(self.elector.lease_remaining),
            on_lost=self.maintainer.stop,
        )
        self._keeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.completer.start()
        for name, queue_config in self.config.queues.items():
            await self.add_queue(name, queue_config.max_workers)
        if not self.config.poll_only:
            self.notifier = Notifier(
                self.driver,
                {
                    TOPIC_INSERT: self._on_insert,
                    TOPIC_CONTROL: self._on_control,
                    TOPIC_LEADERSHIP: self.elector.handle_notification,
                },
                on_connect=self._wake_all,
            )
            self.notifier.start()
        self.elector.start()
        self._keeper = asyncio.create_task(self._keep_queues(), name="river-queue-keeper")

    async def add_queue(self, name: str, max_workers: int) -> None:
        """Start working a queue (at start, or at runtime)."""
        if name in self.producers:
            raise ValueError(f"queue {name!r} is already worked by this client")
        queue = await run_in_tx(
            self.driver,
            lambda ex: ex.queue_create_or_set_updated_at(
                QueueCreateOrSetUpdatedAtParams(name=name)
            ),
        )
        producer = Producer(
            queue=name,
            max_workers=max_workers,
            client_id=self.config.id,
            driver=self.driver,
            completer=self.completer,
            settings=self._settings,
            threads=self._threads,
            fetch_cooldown=self.config.fetch_cooldown,
            fetch_poll_interval=self.config.fetch_poll_interval,
            paused=queue.paused_at is not None,
            on_job_done=self._on_job_done,
        )
        self.producers[name] = producer
        producer.start()
        producer.wake()

    async def remove_queue(self, name: str) -> None:
        """Stop working a queue at runtime, letting its running jobs finish."""
        producer = self.producers.pop(name)
        await producer.stop(hard=False)

    async def stop(self, *, hard: bool, soft_timeout: float | None) -> None:
        # First hand leadership over (maintenance stopped, then resigned), so that another
        # client leads at once rather than after this one's jobs have finished.
        await self.elector.stop()
        producers = list(self.producers.values())
        if hard:
            await asyncio.gather(*(p.stop(hard=True) for p in producers))
        else:
            soft = asyncio.gather(*(p.stop(hard=False) for p in producers))
            try:
                await asyncio.wait_for(asyncio.shield(soft), soft_timeout)
            except TimeoutError:
                log.warning("soft stop timed out after %ss; cancelling running jobs", soft_timeout)
                for p in producers:
                    p.stop_running_jobs()
                await asyncio.gather(*(p.wait_idle(include_threads=False) for p in producers))
                soft.cancel()
        if self._keeper is not None:
            self._keeper.cancel()
        if self.notifier is not None:
            await self.notifier.stop()
        await self.completer.stop()
        self._settings.deadlines.close()
        self.events.on_change = None

    def _wake_all(self) -> None:
        for producer in self.producers.values():
            producer.wake()

    def _on_insert(self, message: dict[str, Any]) -> None:
        producer = self.producers.get(str(message.get("queue")))
        if producer is not None:
            producer.wake()

    def _on_control(self, message: dict[str, Any]) -> None:
        action, queue = message.get("action"), message.get("queue")
        targets = (
            list(self.producers.values())
            if queue == "*"
            else [p for p in (self.producers.get(str(queue)),) if p is not None]
        )
        if action == "cancel":
            job_id = message.get("job_id")
            if isinstance(job_id, int):
                self.cancel_running_job(job_id)
        elif action in ("pause", "resume"):
            for producer in targets:
                self.set_paused(producer, paused=action == "pause")

    def set_paused(self, producer: Producer, *, paused: bool) -> None:
        """Pause or resume a producer; a change is a `queue_paused`/`queue_resumed` event."""
        if producer.paused == paused:
            return
        producer.pause() if paused else producer.resume()
        kind = EventKind.QUEUE_PAUSED if paused else EventKind.QUEUE_RESUMED
        self.events.emit(Event(kind, queue=producer.queue))

    def cancel_running_job(self, job_id: int) -> bool:
        return any(p.cancel_job(job_id) for p in self.producers.values())

    async def _keep_queues(self) -> None:
        """Refresh queues' `updated_at`; in poll-only mode, also follow their pause state."""
        # Well within the queue cleaner's retention, so that no worked queue is removed.
        report = min(QUEUE_REPORT_INTERVAL, self.config.queue_retention / 4)
        interval = min(QUEUE_POLL_INTERVAL, report) if self.config.poll_only else report
        while True:
            await asyncio.sleep(interval)
            for name, producer in list(self.producers.items()):
                try:
                    params = QueueCreateOrSetUpdatedAtParams(name=name, now=datetime.now(UTC))
                    queue = await run_in_tx(
                        self.driver, functools.partial(_queue_report, params=params)
                    )
                except Exception as exc:
                    log.warning("queue keeper: %s: %s", name, exc)
                    continue
                self.set_paused(producer, paused=queue.paused_at is not None)


def _maintenance_services(
    driver: Driver,
    config: Config,
    next_retry: Callable[[JobRow], datetime],
    periodic_jobs: PeriodicJobBundle,
) -> list[MaintenanceService]:
    """The leader-only services, each on its own interval from `config`."""
    services: list[MaintenanceService] = [
        Scheduler(driver, interval=config.scheduler_interval, client_id=config.id),
        JobCleaner(
            driver,
            completed_retention=config.completed_job_retention,
            cancelled_retention=config.cancelled_job_retention,
            discarded_retention=config.discarded_job_retention,
            interval=config.job_cleaner_interval,
            client_id=config.id,
        ),
        Rescuer(
            driver,
            workers=config.workers,
            next_retry=next_retry,
            rescue_after=config.rescue_stuck_jobs_after,
            job_timeout=config.job_timeout,
            interval=config.rescuer_interval,
            client_id=config.id,
        ),
        PeriodicJobEnqueuer(
            driver,
            jobs=periodic_jobs,
            config=config,
            catch_up=config.periodic_job_catch_up,
            client_id=config.id,
        ),
        QueueCleaner(
            driver,
            retention=config.queue_retention,
            interval=config.queue_cleaner_interval,
            client_id=config.id,
        ),
    ]
    if config.reindexer_enabled:
        services.append(
            Reindexer(
                driver,
                schedule=config.reindexer_schedule,
                index_names=config.reindexer_index_names,
                timeout=config.reindexer_timeout,
                client_id=config.id,
            )
        )
    return services
