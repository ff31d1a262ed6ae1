"""The worker API: `Worker[Args]`, `Job[Args]`, `Workers`, and the outcomes a job can raise."""

from __future__ import annotations

import dataclasses
import json
import typing
from collections.abc import Awaitable, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from river_core.errors import RiverError, ValidationError
from river_core.hooks import hooks_of
from river_core.job import AttemptError, JobRow
from river_core.job_args import args_kind_aliases
from river_core.middleware import middleware_of

if TYPE_CHECKING:
    from river_core.driver import Driver

ArgsT = TypeVar("ArgsT")
MAX_OUTPUT_BYTES = 32 * 1024 * 1024  # River's limit of a recorded output (encoded)


class JobSnooze(Exception):
    """Raise from `work` to try again after `seconds`, without spending an attempt."""

    def __init__(self, seconds: float | timedelta) -> None:
        delay = seconds.total_seconds() if isinstance(seconds, timedelta) else float(seconds)
        if delay < 0:
            raise ValueError("JobSnooze duration must be >= 0")
        super().__init__(f"job snoozed for {delay}s")
        self.seconds = delay


class JobCancel(Exception):
    """Raise from `work` to cancel the job for good; `error` is recorded."""

    def __init__(self, error: BaseException | str) -> None:
        super().__init__(f"JobCancelError: {error}")
        self.error = error


class JobTimeoutError(RiverError):
    """The job ran longer than its timeout."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"job timed out after {timeout:g}s")
        self.timeout = timeout


class JobCancelledRemotelyError(RiverError):
    """The job was cancelled through `job_cancel` while it ran."""

    def __init__(self) -> None:
        super().__init__("job cancelled remotely")


@dataclasses.dataclass(slots=True, eq=False)
class Job(Generic[ArgsT]):
    """A running job: its row and its decoded args, handed to `Worker.work`.

    Sync workers cannot be interrupted; they poll `should_stop()` (timeout, remote cancel, hard
    stop) and stop on their own.
    """

    row: JobRow
    args: ArgsT
    _stop: bool = dataclasses.field(default=False, repr=False)
    metadata_updates: dict[str, Any] = dataclasses.field(default_factory=dict, repr=False)
    _driver: Driver | None = dataclasses.field(default=None, repr=False)  # for `complete_tx`

    id = property(lambda self: self.row.id)
    kind = property(lambda self: self.row.kind)
    queue = property(lambda self: self.row.queue)
    attempt = property(lambda self: self.row.attempt)
    max_attempts = property(lambda self: self.row.max_attempts)
    priority = property(lambda self: self.row.priority)
    metadata = property(lambda self: self.row.metadata)
    tags = property(lambda self: self.row.tags)
    created_at = property(lambda self: self.row.created_at)
    scheduled_at = property(lambda self: self.row.scheduled_at)
    attempted_at = property(lambda self: self.row.attempted_at)
    attempted_by = property(lambda self: self.row.attempted_by)
    state = property(lambda self: self.row.state)

    @property
    def errors(self) -> list[AttemptError]:
        return self.row.errors

    def set_metadata(self, key: str, value: Any) -> None:
        """Merge `key: value` into the job's metadata when this attempt ends, whatever its
        outcome (River's `MetadataSet`); usable from the worker, middleware and hooks."""
        if key.startswith("river:"):
            raise ValidationError("metadata", "keys prefixed with `river:` are River's own")
        self.metadata_updates[key] = _json_value("metadata", value)

    def record_output(self, output: Any) -> None:
        """Store `output` (JSON, at most 32 MB encoded) in the job's metadata under "output"
        when this attempt ends, whatever its outcome (River's `RecordOutput`); the last call
        wins."""
        self.metadata_updates["output"] = _json_value("output", output, MAX_OUTPUT_BYTES)

    def should_stop(self) -> bool:
        """True once the job timed out, was cancelled remotely, or the client stops hard."""
        return self._stop

    def _request_stop(self) -> None:
        self._stop = True  # a plain attribute: sync workers poll it from their thread


def _json_value(field: str, value: Any, max_bytes: int | None = None) -> Any:
    """A copy of `value` as JSON will store it; a typed error if it is not JSON or too big."""
    try:
        encoded = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, f"must be JSON-encodable: {exc}") from None
    if max_bytes is not None and len(encoded.encode()) > max_bytes:
        raise ValidationError(field, f"is too large: over {max_bytes // (1024 * 1024)} MB")
    return json.loads(encoded)


class Worker(Generic[ArgsT]):
    """Base class of workers. The args type comes from the type parameter: `Worker[SortArgs]`.

    `work` is `async def` (runs on the event loop) or plain `def` (runs in a thread pool).
    `hooks` and `middleware` apply to this worker's jobs only (see `river_core.hooks`).
    """

    args_type: ClassVar[type[Any]]
    timeout: float | timedelta | None = None  # None: the client's job timeout; 0: no timeout
    hooks: Sequence[object] = ()
    middleware: Sequence[object] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            if typing.get_origin(base) is Worker:
                (arg,) = typing.get_args(base)
                if not isinstance(arg, TypeVar):
                    cls.args_type = arg

    def work(self, job: Job[ArgsT]) -> Awaitable[None] | None:
        raise NotImplementedError

    def next_retry(self, job: Job[ArgsT]) -> datetime | None:
        """Override to choose when a failed job runs again (None: the client's retry policy)."""
        return None

    def timeout_seconds(self) -> float | None:
        if self.timeout is None:
            return None
        if isinstance(self.timeout, timedelta):
            return self.timeout.total_seconds()
        return float(self.timeout)


def kind_of(args_type: type[Any]) -> str:
    """The job kind of an args class: a `kind` class attribute or a dataclass field default."""
    kind = getattr(args_type, "kind", None)
    if isinstance(kind, str) and kind:
        return kind
    if dataclasses.is_dataclass(args_type):
        for f in dataclasses.fields(args_type):
            if f.name == "kind" and isinstance(f.default, str):
                return f.default
    model_fields = getattr(args_type, "model_fields", None)
    if model_fields and "kind" in model_fields:
        default = model_fields["kind"].default
        if isinstance(default, str):
            return default
    raise TypeError(f"{args_type.__name__} has no `kind`: give it a `kind` class attribute")


def decode_args(args_type: type[ArgsT], args: dict[str, Any]) -> ArgsT:
    """Build an args object from a job's decoded JSON (dataclass, pydantic model or dict)."""
    if args_type is dict:
        return typing.cast(ArgsT, args)
    validate = getattr(args_type, "model_validate", None)
    if validate is not None:
        return typing.cast(ArgsT, validate(args))
    if dataclasses.is_dataclass(args_type):
        names = {f.name for f in dataclasses.fields(args_type) if f.init and f.name != "kind"}
        unknown = set(args) - names - {"kind"}
        if unknown:
            raise TypeError(f"unexpected args for {args_type.__name__}: {sorted(unknown)}")
        return args_type(**{k: v for k, v in args.items() if k in names})
    from_json = getattr(args_type, "from_json", None)
    if from_json is not None:
        return typing.cast(ArgsT, from_json(args))
    return args_type(**args)


class Workers:
    """The registry of workers, by job kind (including each args type's `kind_aliases`)."""

    def __init__(self) -> None:
        self._by_kind: dict[str, Worker[Any]] = {}

    def add(self, worker: Worker[Any]) -> None:
        args_type = getattr(type(worker), "args_type", None)
        if args_type is None:
            raise TypeError(f"{type(worker).__name__} must subclass Worker[ArgsType]")
        for owner in (worker, args_type):  # typed errors now rather than at the first job
            hooks_of(owner)
            middleware_of(owner)
        kinds = [kind_of(args_type), *args_kind_aliases(args_type)]
        for kind in kinds:
            if kind in self._by_kind:
                raise ValueError(f"a worker for kind {kind!r} is already registered")
        for kind in kinds:
            self._by_kind[kind] = worker

    def get(self, kind: str) -> Worker[Any] | None:
        return self._by_kind.get(kind)

    def kinds(self) -> frozenset[str]:
        return frozenset(self._by_kind)

    def __bool__(self) -> bool:
        return bool(self._by_kind)
