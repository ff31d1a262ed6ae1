"""Unique options, unique keys and unique-state bitmasks, computed as River's `dbunique` does.

The key is the SHA-256 of River's canonical string:
`&kind=<kind>` (unless `exclude_kind`), `&args=<json>` (if `by_args`), `&period=<RFC 3339>` (if
`by_period`) and `&queue=<queue>` (if `by_queue`), in that order. The args JSON is the Go-encoded
args reduced to what River keeps: with `by_args=True`, the top-level members sorted by key (the
first of duplicate keys wins); with a list of paths, only those values, nested as the paths say,
paths sorted. Object keys in that JSON are written as River's `sjson` writes them: as they are
when plain ASCII, else Go-encoded.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from river_core.gojson import JSONObject, encode_value, parse_json_text
from river_core.job import UNIQUE_STATE_BITS, JobState
from river_core.validation import InvalidUniqueOptsError

__all__ = [
    "DEFAULT_UNIQUE_STATES",
    "REQUIRED_UNIQUE_STATES",
    "UniqueOpts",
    "bitmask_from_bits",
    "bitmask_to_bits",
    "bitmask_to_states",
    "states_to_bitmask",
    "unique_key",
    "unique_key_string",
    "validate_unique_opts",
]

DEFAULT_UNIQUE_STATES: tuple[JobState, ...] = (
    JobState.AVAILABLE,
    JobState.COMPLETED,
    JobState.PENDING,
    JobState.RETRYABLE,
    JobState.RUNNING,
    JobState.SCHEDULED,
)
"""River's `UniqueOptsByStateDefault()` (bitmask 245)."""

REQUIRED_UNIQUE_STATES: tuple[JobState, ...] = (
    JobState.AVAILABLE,
    JobState.PENDING,
    JobState.RUNNING,
    JobState.SCHEDULED,
)
"""States a custom `by_state` must include (River's `requiredV3states`)."""

_NANOS_PER_SECOND = 1_000_000_000
_GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
# sjson writes a key raw unless it has a byte < 0x20 or > 0x7f, `"` or `\`.
_SJSON_MARSHALLED_KEY = re.compile('[\x00-\x1f"\\\\\x80-\U0010ffff]')
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass
class UniqueOpts:
    """Uniqueness options; all unset (None) means the job is not unique.

    `by_args` is True (all args) or a list of dotted arg paths (`"account.id"`), River's
    `river:"unique"` fields; `by_period` is seconds (int/float) or a timedelta; `by_state`
    defaults to `DEFAULT_UNIQUE_STATES`.
    """

    by_args: bool | Sequence[str] | None = None
    by_period: float | timedelta | None = None
    by_queue: bool | None = None
    by_state: Sequence[JobState | str] | None = None
    exclude_kind: bool | None = None

    def is_empty(self) -> bool:
        """River's `isEmpty`: no dimension set (`exclude_kind` alone does not count)."""
        return (
            (self.by_args is None or self.by_args is False)
            and not self.by_period
            and not self.by_queue
            and self.by_state is None
        )


@dataclass(frozen=True, slots=True)
class _CheckedOpts:
    paths: tuple[str, ...] | None  # None: all args
    by_args: bool
    period_ns: int
    by_queue: bool
    states_mask: int
    exclude_kind: bool


def _optional_bool(value: object, field: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidUniqueOptsError(field, f"must be a bool, not {type(value).__name__}")
    return value


def _period_nanoseconds(value: object) -> int:
    field = "unique_opts.by_period"
    if value is None:
        return 0
    if isinstance(value, timedelta):
        ns = (value.days * 86_400 + value.seconds) * _NANOS_PER_SECOND + value.microseconds * 1000
    elif isinstance(value, int) and not isinstance(value, bool):
        ns = value * _NANOS_PER_SECOND
    elif isinstance(value, float) and math.isfinite(value):
        ns = round(value * _NANOS_PER_SECOND)
    else:
        raise InvalidUniqueOptsError(
            field, f"must be seconds (int/float) or a timedelta, not {value!r}"
        )
    if ns != 0 and ns < _NANOS_PER_SECOND:
        raise InvalidUniqueOptsError(field, "UniqueOpts.ByPeriod should not be less than 1 second")
    return ns


def _paths(value: object) -> tuple[str, ...] | None:
    field = "unique_opts.by_args"
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or not value:
        raise InvalidUniqueOptsError(field, "must be True or a non-empty list of arg paths")
    for path in value:
        if not isinstance(path, str) or "" in path.split("."):
            raise InvalidUniqueOptsError(
                field, f"arg paths are dotted keys such as 'account.id', got {path!r}"
            )
    return tuple(sorted(set(value)))


def _state(value: object) -> JobState:
    try:
        if not isinstance(value, str):
            raise ValueError
        return JobState(value)
    except ValueError:
        raise InvalidUniqueOptsError(
            "unique_opts.by_state", f"UniqueOpts.ByState contains invalid state {value!r}"
        ) from None


def validate_unique_opts(opts: UniqueOpts) -> None:
    """Raise `InvalidUniqueOptsError` for options River's `UniqueOpts.validate` refuses."""
    _check(opts)


def _check(opts: UniqueOpts) -> _CheckedOpts:
    if not isinstance(opts, UniqueOpts):
        raise InvalidUniqueOptsError(
            "unique_opts", f"must be a UniqueOpts, not {type(opts).__name__}"
        )
    paths = _paths(opts.by_args)
    by_args = paths is not None or _optional_bool(opts.by_args, "unique_opts.by_args")
    period_ns = _period_nanoseconds(opts.by_period)
    states: Sequence[JobState] = DEFAULT_UNIQUE_STATES
    if opts.by_state is not None:
        if isinstance(opts.by_state, str | bytes) or not isinstance(opts.by_state, Iterable):
            raise InvalidUniqueOptsError("unique_opts.by_state", "must be a list of job states")
        custom = [_state(state) for state in opts.by_state]
        if custom:
            missing = [s.value for s in REQUIRED_UNIQUE_STATES if s not in custom]
            if missing:
                raise InvalidUniqueOptsError(
                    "unique_opts.by_state",
                    "UniqueOpts.ByState must contain all required states, missing: "
                    + ", ".join(missing),
                )
            states = custom
    return _CheckedOpts(
        paths=paths,
        by_args=by_args,
        period_ns=period_ns,
        by_queue=_optional_bool(opts.by_queue, "unique_opts.by_queue"),
        states_mask=states_to_bitmask(states),
        exclude_kind=_optional_bool(opts.exclude_kind, "unique_opts.exclude_kind"),
    )


def states_to_bitmask(states: Iterable[JobState | str]) -> int:
    """River's `UniqueStatesToBitmask`: available=1, cancelled=2, ... scheduled=128."""
    mask = 0
    for state in states:
        mask |= UNIQUE_STATE_BITS[JobState(state)]
    return mask


def bitmask_to_states(mask: int) -> list[JobState]:
    """The states of a bitmask, sorted by name as River sorts them."""
    return sorted((s for s, bit in UNIQUE_STATE_BITS.items() if mask & bit), key=lambda s: s.value)


def bitmask_to_bits(mask: int) -> str:
    """A bitmask as PostgreSQL `bit(8)` text, most significant bit first (245 -> '11110101')."""
    if not 0 <= mask <= 0xFF:
        raise ValueError(f"unique states bitmask out of range: {mask}")
    return format(mask, "08b")


def bitmask_from_bits(bits: str) -> int:
    """PostgreSQL `bit(8)` text back to a bitmask ('11110101' -> 245)."""
    if len(bits) != 8 or bits.strip("01"):
        raise ValueError(f"not a bit(8) value: {bits!r}")
    return int(bits, 2)


def _key_text(key: str) -> str:
    if _SJSON_MARSHALLED_KEY.search(key) is None:
        return '"' + key + '"'
    return encode_value(key, strict=False).decode()


def _encode_tree(node: dict[str, Any] | JSONObject | Any) -> str:
    """Encode a value whose dict levels were built by sjson (keys written sjson's way)."""
    if isinstance(node, dict):
        return "{" + ",".join(_key_text(k) + ":" + _encode_tree(v) for k, v in node.items()) + "}"
    return encode_value(node, field="args", strict=False).decode()


_MISSING = object()


def _lookup(args: JSONObject, path: str) -> Any:
    node: Any = args
    for segment in path.split("."):
        if not isinstance(node, JSONObject):
            return _MISSING
        node = next((v for k, v in node.pairs if k == segment), _MISSING)
        if node is _MISSING:
            return _MISSING
    return node


def _args_for_key(args: JSONObject, paths: tuple[str, ...] | None) -> str:
    if paths is None:
        first: dict[str, Any] = {}
        for key, value in args.pairs:
            first.setdefault(_SURROGATE.sub("\ufffd", key), value)
        return _encode_tree({key: first[key] for key in sorted(first)})
    selected: dict[str, Any] = {}
    for path in paths:
        value = _lookup(args, path)
        if value is _MISSING:
            continue
        *parents, leaf = path.split(".")
        node: Any = selected
        for segment in parents:
            node = node.setdefault(segment, {})
            if not isinstance(node, dict):
                break  # a shorter selected path already holds this whole value
        else:
            node[leaf] = value
    return _encode_tree(selected) if selected else ""


def _format_period(moment: datetime, period_ns: int) -> str:
    """Go's `moment.Truncate(period).Format(time.RFC3339)` in UTC."""
    delta = moment - _GO_ZERO_TIME
    since_zero_ns = (delta.days * 86_400 + delta.seconds) * _NANOS_PER_SECOND + (
        delta.microseconds * 1000
    )
    truncated = since_zero_ns - since_zero_ns % period_ns
    bound = _GO_ZERO_TIME + timedelta(seconds=truncated // _NANOS_PER_SECOND)
    return (
        f"{bound.year:04d}-{bound.month:02d}-{bound.day:02d}"
        f"T{bound.hour:02d}:{bound.minute:02d}:{bound.second:02d}Z"
    )


def _aware(value: datetime, field: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidUniqueOptsError(field, "must be a timezone-aware datetime")
    return value


def _key_string(
    kind: str,
    args_json: str | bytes,
    queue: str,
    opts: _CheckedOpts,
    now: datetime,
    scheduled_at: datetime | None,
) -> str:
    parts: list[str] = []
    if not opts.exclude_kind:
        parts.append("&kind=" + kind)
    if opts.by_args:
        parts.append("&args=" + _args_for_key(parse_json_text(args_json), opts.paths))
    if opts.period_ns:
        if scheduled_at is None:
            moment = _aware(now, "now")
        else:
            moment = _aware(scheduled_at, "scheduled_at")
        parts.append("&period=" + _format_period(moment, opts.period_ns))
    if opts.by_queue:
        parts.append("&queue=" + queue)
    return "".join(parts)


def unique_key_string(
    kind: str,
    args_json: str | bytes,
    queue: str,
    unique_opts: UniqueOpts,
    *,
    now: datetime,
    scheduled_at: datetime | None = None,
) -> str:
    """River's canonical unique string, before hashing (see `unique_key`)."""
    return _key_string(kind, args_json, queue, _check(unique_opts), now, scheduled_at)


def unique_key(
    kind: str,
    args_json: str | bytes,
    queue: str,
    unique_opts: UniqueOpts,
    *,
    now: datetime,
    scheduled_at: datetime | None = None,
) -> tuple[bytes, int]:
    """The `unique_key` (SHA-256 digest) and `unique_states` bitmask River stores for a job.

    `args_json` is the args' JSON object text (as `to_json()` returns it, or already
    Go-encoded); it is re-encoded as Go writes it (NUL allowed here; the insert path rejects it).
    The period is truncated from `scheduled_at` if given, else `now`, as Go's `time.Truncate`
    does (multiples of the period since year 1, UTC). Raises `InvalidUniqueOptsError` for
    options River refuses and `InvalidJSONError` for args that are not a JSON object.
    """
    opts = _check(unique_opts)
    text = _key_string(kind, args_json, queue, opts, now, scheduled_at)
    return hashlib.sha256(text.encode()).digest(), opts.states_mask
