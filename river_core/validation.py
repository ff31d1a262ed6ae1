"""River's validation rules for job kinds, queues, priorities, attempts, tags and metadata.

River's regular expressions are ported as linear checks: every pattern here is anchored
(`re.fullmatch`), ASCII-only (`re.ASCII`) and a single character class repeated, with the
structural rules (first/last character, no doubled separators) checked separately, so no input
can make them backtrack. Lengths are checked before any pattern runs.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from river_core.errors import ValidationError
from river_core.gojson import InvalidJSONError, encode_args, reencode_json_text

__all__ = [
    "MAX_KIND_LENGTH",
    "MAX_QUEUE_NAME_LENGTH",
    "MAX_TAG_LENGTH",
    "InvalidInsertOptsError",
    "InvalidJSONError",
    "InvalidKindError",
    "InvalidMaxAttemptsError",
    "InvalidPriorityError",
    "InvalidQueueNameError",
    "InvalidScheduledAtError",
    "InvalidTagError",
    "InvalidUniqueOptsError",
    "validate_kind",
    "validate_max_attempts",
    "validate_metadata",
    "validate_priority",
    "validate_queue",
    "validate_scheduled_at",
    "validate_tags",
]

MAX_KIND_LENGTH = 127
"""`river_job.kind_length`: char_length(kind) < 128."""
MAX_QUEUE_NAME_LENGTH = 64
"""River's `validateQueueName` limit (bytes)."""
MAX_TAG_LENGTH = 255
"""River's tag limit and `river_job.tags varchar(255)[]`."""
MAX_SMALLINT = 32_767
"""`river_job.max_attempts` is a smallint."""


class InvalidKindError(ValidationError):
    """A job kind River would refuse."""

    def __init__(self, message: str) -> None:
        super().__init__("kind", message)


class InvalidInsertOptsError(ValidationError):
    """An insert option River would refuse; `field` names the option."""


class InvalidQueueNameError(InvalidInsertOptsError):
    def __init__(self, message: str) -> None:
        super().__init__("queue", message)


class InvalidPriorityError(InvalidInsertOptsError):
    def __init__(self, message: str) -> None:
        super().__init__("priority", message)


class InvalidMaxAttemptsError(InvalidInsertOptsError):
    def __init__(self, message: str) -> None:
        super().__init__("max_attempts", message)


class InvalidTagError(InvalidInsertOptsError):
    def __init__(self, message: str) -> None:
        super().__init__("tags", message)


class InvalidScheduledAtError(InvalidInsertOptsError):
    def __init__(self, message: str) -> None:
        super().__init__("scheduled_at", message)


class InvalidUniqueOptsError(InvalidInsertOptsError):
    """A bad `UniqueOpts`; `field` is e.g. `unique_opts.by_state`."""


# River: `\A[\w][\w\-\[\]<>\/.·:+]+\z` (Go's \w is ASCII).
_KIND_FIRST = re.compile(r"\w", re.ASCII)
_KIND_REST = re.compile(r"[\w\-\[\]<>/.\u00b7:+]+", re.ASCII)
# River: `^(?:[a-z0-9])+(?:[_|\-]?[a-z0-9]+)*$`: alphanumeric runs joined by single `_`, `|`, `-`.
_QUEUE_CHARS = re.compile(r"[a-z0-9_|\-]+", re.ASCII)
_QUEUE_EDGE = re.compile(r"[a-z0-9]", re.ASCII)
_QUEUE_DOUBLE_SEPARATOR = re.compile(r"[_|\-]{2}", re.ASCII)
# River: `\A[\w][\w\-]+[\w]\z`.
_TAG_CHARS = re.compile(r"[\w\-]+", re.ASCII)
_WORD = re.compile(r"\w", re.ASCII)


def _type_name(value: object) -> str:
    return type(value).__name__


def validate_kind(kind: object) -> str:
    """A job kind: 2..127 characters matching River's `UserSpecifiedIDOrKindRE`."""
    if not isinstance(kind, str):
        raise InvalidKindError(f"must be a string, not {_type_name(kind)}")
    if not kind:
        raise InvalidKindError("must not be empty")
    if len(kind) > MAX_KIND_LENGTH:
        raise InvalidKindError(f"must be at most {MAX_KIND_LENGTH} characters, got {len(kind)}")
    if len(kind) < 2 or not _KIND_FIRST.fullmatch(kind[0]) or not _KIND_REST.fullmatch(kind, 1):
        raise InvalidKindError(
            f"{kind!r} should match regex \\A[\\w][\\w\\-\\[\\]<>\\/.\u00b7:+]+\\z"
        )
    return kind


def validate_queue(queue: object) -> str:
    """A queue name: 1..64 bytes of [a-z0-9] runs joined by single `_`, `|` or `-`."""
    if not isinstance(queue, str):
        raise InvalidQueueNameError(f"must be a string, not {_type_name(queue)}")
    if not queue:
        raise InvalidQueueNameError("queue name cannot be empty")
    if len(queue) > MAX_QUEUE_NAME_LENGTH:
        raise InvalidQueueNameError(
            f"queue name cannot be longer than {MAX_QUEUE_NAME_LENGTH} characters"
        )
    if (
        not _QUEUE_CHARS.fullmatch(queue)
        or not _QUEUE_EDGE.fullmatch(queue[0])
        or not _QUEUE_EDGE.fullmatch(queue[-1])
        or _QUEUE_DOUBLE_SEPARATOR.search(queue)
    ):
        raise InvalidQueueNameError(
            "queue name is invalid, expected letters and numbers separated by underscores "
            f"or hyphens: {queue!r}"
        )
    return queue


def validate_priority(priority: object) -> int:
    """A priority: an int from 1 (highest) to 4."""
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise InvalidPriorityError(f"must be an int, not {_type_name(priority)}")
    if not 1 <= priority <= 4:
        raise InvalidPriorityError(f"priority must be between 1 and 4, got {priority}")
    return int(priority)


def validate_max_attempts(max_attempts: object) -> int:
    """Max attempts: an int from 1 to 32767 (`smallint`, `max_attempts_is_positive`)."""
    if not isinstance(max_attempts, int) or isinstance(max_attempts, bool):
        raise InvalidMaxAttemptsError(f"must be an int, not {_type_name(max_attempts)}")
    if not 1 <= max_attempts <= MAX_SMALLINT:
        raise InvalidMaxAttemptsError(f"must be between 1 and {MAX_SMALLINT}, got {max_attempts}")
    return int(max_attempts)


def _validate_tag(tag: object) -> str:
    if not isinstance(tag, str):
        raise InvalidTagError(f"tags must be strings, not {_type_name(tag)}")
    if len(tag) > MAX_TAG_LENGTH:
        raise InvalidTagError(f"tags should be a maximum of {MAX_TAG_LENGTH} characters long")
    if (
        len(tag) < 3
        or not _TAG_CHARS.fullmatch(tag)
        or not _WORD.fullmatch(tag[0])
        or not _WORD.fullmatch(tag[-1])
    ):
        raise InvalidTagError(f"tags should match regex \\A[\\w][\\w\\-]+[\\w]\\z, got {tag!r}")
    return tag


def validate_tags(tags: object) -> list[str]:
    """A list of tags, each 3..255 characters matching River's `\\A[\\w][\\w\\-]+[\\w]\\z`."""
    if isinstance(tags, str | bytes) or not isinstance(tags, list | tuple):
        raise InvalidTagError(f"must be a list of strings, not {_type_name(tags)}")
    return [_validate_tag(tag) for tag in tags]


def validate_scheduled_at(scheduled_at: object) -> datetime:
    """An aware datetime, returned in UTC."""
    if not isinstance(scheduled_at, datetime):
        raise InvalidScheduledAtError(f"must be a datetime, not {_type_name(scheduled_at)}")
    if scheduled_at.tzinfo is None or scheduled_at.utcoffset() is None:
        raise InvalidScheduledAtError("must be timezone-aware (naive datetimes are ambiguous)")
    return scheduled_at.astimezone(UTC)


def validate_metadata(metadata: Mapping[str, Any] | str | bytes) -> bytes:
    """Metadata (a mapping, or JSON object text) as Go-encoded JSON object bytes."""
    if isinstance(metadata, str | bytes | bytearray):
        return reencode_json_text(metadata, field="metadata")
    return encode_args(metadata, field="metadata")
