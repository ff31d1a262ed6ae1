"""Leader-only maintenance: job cleaner, rescuer, scheduler, periodic job enqueuer, queue
cleaner, reindexer."""

from river_core.maintenance.job_cleaner import JobCleaner
from river_core.maintenance.maintainer import Maintainer
from river_core.maintenance.periodic import PeriodicJobEnqueuer
from river_core.maintenance.queue_cleaner import QueueCleaner
from river_core.maintenance.reindexer import DailyAtMidnightUTC, Reindexer
from river_core.maintenance.rescuer import RESCUE_ERROR, Rescuer
from river_core.maintenance.scheduler import Scheduler
from river_core.maintenance.service import (
    LeadershipEndedError,
    Lease,
    MaintenanceService,
    ReducedBatchBreaker,
)

__all__ = [
    "RESCUE_ERROR",
    "DailyAtMidnightUTC",
    "JobCleaner",
    "LeadershipEndedError",
    "Lease",
    "Maintainer",
    "MaintenanceService",
    "PeriodicJobEnqueuer",
    "QueueCleaner",
    "ReducedBatchBreaker",
    "Reindexer",
    "Rescuer",
    "Scheduler",
]
