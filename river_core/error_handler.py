"""The error handler: told of every failed attempt, it may override the outcome (River's
`ErrorHandler`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from river_core.job import JobRow

__all__ = ["ErrorHandler", "ErrorHandlerResult"]


@dataclass(frozen=True, slots=True)
class ErrorHandlerResult:
    """What to do with a failed job instead of the default (retry per policy, or discard).

    `set_cancelled`: cancel it for good. `retry_at` (aware): retry it then, even when it used
    its last attempt (the next failure is discarded unless the handler asks again).
    """

    set_cancelled: bool = False
    retry_at: datetime | None = None


class ErrorHandler(Protocol):
    """`Config.error_handler`.

    `handle_error` is called for any exception a job's attempt ends with (raised by the worker,
    a middleware or a hook; a timeout; an unknown kind): River's `HandleError` and
    `HandlePanic` in one, since Python has only exceptions. It is not called for `JobSnooze`,
    `JobCancel`, a remote cancel or an interruption by the client's stop. It runs on the
    event loop: keep it quick. An exception it raises is logged and ignored.
    """

    def handle_error(self, job: JobRow, error: BaseException) -> ErrorHandlerResult | None: ...
