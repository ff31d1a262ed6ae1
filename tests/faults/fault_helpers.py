"""Small helpers shared by the fault tests: bounded waits and the ledger's verdicts."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

T = TypeVar("T")

Run = tuple[int, str, datetime, datetime | None]
"""One run of a job from the ledger: job id, client id, started_at, ended_at (None: never)."""


def wait_for(
    check: Callable[[], T | None], what: str, timeout: float, *, interval: float = 0.05
) -> T:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def overlapping_runs(runs: Sequence[Run], killed_at: Mapping[str, datetime]) -> list[int]:
    """Jobs two of whose runs overlap in time.

    A run that never ended lasted until its client was killed (`killed_at`, taken on the
    database clock once the process was gone); a run that never ended in a client that was
    not killed lasts for ever.
    """
    by_job: dict[int, list[tuple[datetime, datetime | None]]] = {}
    for job_id, client, started, ended in runs:
        by_job.setdefault(job_id, []).append((started, ended or killed_at.get(client)))
    found = []
    for job_id, spans in by_job.items():
        spans.sort(key=lambda span: span[0])
        for (_, end), (start, _) in itertools.pairwise(spans):
            if end is None or start < end:
                found.append(job_id)
                break
    return found
