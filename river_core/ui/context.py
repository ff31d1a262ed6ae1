"""What every route of one dashboard shares: the database, its settings, the count caches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from river_core import admin
from river_core.driver import Executor
from river_core.job import JobRow
from river_core.ui import counts
from river_core.ui.counts import Cached, QueueSummary, StateCounts, queue_summaries, state_counts
from river_core.ui.database import Database

# What the job buttons and the JSON API's job endpoints do, by name.
JOB_ACTIONS: dict[str, Callable[[Executor, int], JobRow]] = {
    "cancel": admin.job_cancel,
    "delete": admin.job_delete,
    "retry": admin.job_retry,
}


@dataclass(eq=False)
class UiContext:
    db: Database
    read_only: bool
    hide_args: bool
    refresh_interval: float
    state_counts: Cached[StateCounts] = field(init=False)
    queues: Cached[list[QueueSummary]] = field(init=False)

    def __post_init__(self) -> None:
        seconds = counts.CACHE_SECONDS
        self.state_counts = Cached(lambda: self.db.run(state_counts, autocommit=True), seconds)
        self.queues = Cached(lambda: self.db.run(queue_summaries, autocommit=True), seconds)

    def changed(self) -> None:
        """Jobs or queues changed here: the next page shows fresh counts."""
        self.state_counts.invalidate()
        self.queues.invalidate()
