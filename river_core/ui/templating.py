"""The dashboard's Jinja2 environment (autoescaped) and what its templates format."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import jinja2
from starlette.templating import Jinja2Templates

from river_core.job import FINAL_STATES, JobRow, JobState
from river_core.ui.counts import COUNT_LIMIT, StateCounts


def templates() -> Jinja2Templates:
    """The package's templates, autoescaped, with the dashboard's filters."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("river_core.ui", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["capped"] = format_capped
    env.filters["compact"] = lambda value: json.dumps(value, ensure_ascii=False)
    env.filters["count"] = format_count
    env.filters["pretty"] = pretty_json
    env.filters["segment"] = lambda value: quote(str(value), safe="")
    env.filters["utc"] = format_utc
    env.globals["state_count"] = state_count
    return Jinja2Templates(env=env)


def format_count(value: int, approximate: bool = False) -> str:
    """`1,234`; an estimate as `≈1,234,567`."""
    return ("≈" if approximate else "") + f"{value:,}"


def format_capped(value: int, limit: int = COUNT_LIMIT) -> str:
    """A count that stopped at its limit: `10,000+`."""
    return f"{value:,}+" if value >= limit else f"{value:,}"


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def format_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def relative(value: datetime, now: datetime) -> str:
    """`3m ago` or `in 2h`, to the largest whole unit."""
    seconds = (value - now).total_seconds()
    size = abs(seconds)
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if size >= length:
            text = f"{int(size // length)}{unit}"
            break
    else:
        if size < 1:
            return "now"
        text = f"{int(size)}s"
    return f"in {text}" if seconds > 0 else f"{text} ago"


@dataclass(frozen=True, slots=True)
class TimelineStep:
    label: str
    at: datetime | None
    note: str
    done: bool


def timeline(job: JobRow, now: datetime) -> list[TimelineStep]:
    """Created, scheduled, attempted and finalized, with what is still to come marked so."""
    final = job.state in FINAL_STATES
    return [
        TimelineStep("Created", job.created_at, "", True),
        TimelineStep(
            "Scheduled",
            job.scheduled_at,
            "waiting for its time" if job.scheduled_at > now and not final else "",
            job.scheduled_at <= now or final,
        ),
        TimelineStep(
            "Attempted",
            job.attempted_at,
            f"attempt {job.attempt} of {job.max_attempts}" if job.attempt else "not yet",
            job.attempted_at is not None,
        ),
        TimelineStep(
            "Finalized",
            job.finalized_at,
            job.state.value if final else "not yet",
            job.finalized_at is not None,
        ),
    ]


def state_count(counts: StateCounts, state: JobState) -> str:
    """A state's count as shown: exact, `≈` an estimate, or `10,000+` when the estimate is
    below what was counted."""
    count = counts.counts[state]
    if state in counts.estimated and count <= COUNT_LIMIT:
        return format_capped(count, COUNT_LIMIT)
    return format_count(count, state in counts.estimated)
