"""Each validator on ~1 KB of adversarial input: far under 1 ms (timings printed with -s).

Every pattern is anchored and linear (`re.fullmatch`, `re.ASCII`, lengths checked first), and
the JSON checks are single passes, so no input makes them backtrack or recurse without bound.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime

from client_harness import AnyArgs, RawArgs

import river_core as river
from river_core.insert_params import build_insert_params
from river_core.job_args import args_to_json_bytes
from river_core.unique import unique_key, validate_unique_opts
from river_core.validation import validate_kind, validate_metadata, validate_queue, validate_tags


def nested_text(levels: int) -> str:
    return '{"a":' * (levels - 1) + "{}" + "}" * (levels - 1)


KB = 1024
CONFIG = river.Config()
EVERY_OPTION = river.InsertOpts(
    max_attempts=5,
    priority=2,
    queue="q_" * 31 + "q",
    scheduled_at=datetime(2030, 1, 1, tzinfo=UTC),
    tags=["tag-" + "x" * 250] * 3,
    unique_opts=river.UniqueOpts(by_args=True, by_period=60, by_queue=True),
    metadata={"m": "<" * 200},
)
ADVERSARIAL: dict[str, Callable[[], object]] = {
    # Inputs built to make a backtracking pattern or a naive parser blow up, about 1 KB each.
    "kind (1 KB, bad last char)": lambda: validate_kind("a" + "-" * (KB - 2) + "!"),
    "kind (127 chars, bad last char)": lambda: validate_kind("a" + "-[]<>" * 25 + "!"),
    "queue (1 KB, separators)": lambda: validate_queue("a_" * (KB // 2)),
    "queue (64 chars, bad last char)": lambda: validate_queue("a_" * 31 + "a!"),
    "tags (4 x 255 chars, bad last char)": lambda: validate_tags(["a" + "-" * 253 + "!"] * 4),
    "metadata (1 KB nested text)": lambda: validate_metadata("[" * KB),
    "metadata (1 KB deep object)": lambda: validate_metadata(nested_text(KB // 5)),
    "args (1 KB of escapes)": lambda: args_to_json_bytes(AnyArgs(value="<\u2028\x01" * 340)),
    "args (1 KB, surrogate at end)": lambda: args_to_json_bytes(
        RawArgs('{"a": "' + "x" * (KB - 20) + '\\ud800"}')
    ),
    "args (1 KB, NUL at end)": lambda: args_to_json_bytes(AnyArgs(value="x" * KB + "\x00")),
    "args (1 KB of keys)": lambda: args_to_json_bytes(
        AnyArgs(value={f"k{i}": i for i in range(KB // 8)})
    ),
    "unique key (1 KB args, by_args)": lambda: unique_key(
        "kind",
        '{"a": "' + "<" * KB + '"}',
        "default",
        river.UniqueOpts(by_args=True, by_period=60, by_queue=True),
        now=datetime.now(UTC),
    ),
    "unique opts (1 KB of arg paths)": lambda: validate_unique_opts(
        river.UniqueOpts(by_args=[f"a{i}.b{i}" for i in range(KB // 8)] + ["a..b"])
    ),
    "whole insert (1 KB args, every option)": lambda: build_insert_params(
        AnyArgs(value="<\u2028" * (KB // 2)), EVERY_OPTION, CONFIG
    ),
}


def time_one(fn: Callable[[], object], runs: int = 200) -> float:
    """Median seconds of one call (rejections and successes alike)."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        try:
            fn()
        except river.ValidationError:
            pass
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def test_validators_are_fast_on_adversarial_input() -> None:
    """Each validator handles ~1 KB of adversarial input in well under 1 ms (printed with -s)."""
    timings = {name: time_one(fn) for name, fn in ADVERSARIAL.items()}
    print()
    for name, seconds in timings.items():
        print(f"  {name:<40} {seconds * 1e6:8.1f} us")
    slow = {name: seconds for name, seconds in timings.items() if seconds > 0.01}
    assert not slow, slow  # generous: catastrophic backtracking would take seconds
