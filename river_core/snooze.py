"""River's snooze counter: `metadata.snoozes` read as gjson's `Int()` reads it, plus one."""

from __future__ import annotations

import re
from typing import Any

_INT_TEXT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


def _gjson_int(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else 0
    if isinstance(value, float):
        if value != value or not _INT64_MIN <= value < _INT64_MAX:
            return _INT64_MIN  # Go's int64(f) of an out-of-range float on amd64
        return int(value)  # truncates toward zero, like Go's int64(f)
    if isinstance(value, str) and _INT_TEXT.fullmatch(value):
        number = int(value)
        return number if _INT64_MIN <= number <= _INT64_MAX else 0
    return 0


def next_snooze_count(metadata: dict[str, Any]) -> int:
    """The `snoozes` value River writes when a job snoozes once more."""
    return _gjson_int(metadata.get("snoozes")) + 1
