"""Cron schedules: River's goldens, robfig/cron's own cases, edge syntax and properties."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from river_core.cron import CronSchedule, CronSyntaxError, cron_schedule
from river_core.errors import RiverError
from river_core.schedules import Schedule

GOLDENS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "river" / "maintenance_values.json").read_text()
)
NEW_YORK = ZoneInfo("America/New_York")


def run(expression: str, after: datetime, count: int) -> list[str]:
    """Up to `count` successive runs as ISO strings (wall time and offset), fewer if None."""
    return [
        moment.isoformat() for moment in successive_runs(cron_schedule(expression), after, count)
    ]


def iso(text: str) -> str:
    return datetime.fromisoformat(text).isoformat()


@pytest.mark.parametrize(
    "case",
    GOLDENS["cron_cases"] + GOLDENS["cron_named_zone_cases"],
    ids=lambda case: str(case["name"]),
)
def test_river_golden_next_times(case: dict[str, Any]) -> None:
    expected = [iso(text) for text in case["next"]]
    after = datetime.fromisoformat(case["from"])
    assert run(case["expression"], after, len(expected) or 1) == expected


@pytest.mark.parametrize("expression", GOLDENS["cron_invalid"])
def test_river_golden_invalid_expressions(expression: str) -> None:
    with pytest.raises(CronSyntaxError) as info:
        cron_schedule(expression)
    assert info.value.expression == expression
    assert repr(expression) in str(info.value)


def test_golden_counts() -> None:
    assert (len(GOLDENS["cron_cases"]), len(GOLDENS["cron_named_zone_cases"])) == (36, 9)
    assert len(GOLDENS["cron_invalid"]) == 21


# robfig/cron v3.0.1 spec_test.go TestNext / TestNextWithTz, rewritten for five fields (their
# seconds field was 0 in these cases). Times without an offset were in Go's local zone: UTC here.
ROBFIG_NEXT = [
    ("2012-07-09T14:45:00Z", "0/15 * * * *", "2012-07-09T15:00:00Z"),
    ("2012-07-09T14:59:00Z", "0/15 * * * *", "2012-07-09T15:00:00Z"),
    ("2012-07-09T14:59:59Z", "0/15 * * * *", "2012-07-09T15:00:00Z"),
    ("2012-07-09T15:45:00Z", "20-35/15 * * * *", "2012-07-09T16:20:00Z"),
    ("2012-07-09T23:46:00Z", "*/15 * * * *", "2012-07-10T00:00:00Z"),
    ("2012-07-09T23:45:00Z", "20-35/15 * * * *", "2012-07-10T00:20:00Z"),
    ("2012-07-09T23:35:00Z", "0 0 9 Apr-Oct ?", "2012-08-09T00:00:00Z"),
    ("2012-07-09T23:35:00Z", "0 0 */5 Apr,Aug,Oct Mon", "2012-08-01T00:00:00Z"),
    ("2012-07-09T23:35:00Z", "0 0 */5 Oct Mon", "2012-10-01T00:00:00Z"),
    ("2012-07-09T23:35:00Z", "0 0 * Feb Mon", "2013-02-04T00:00:00Z"),
    ("2012-07-09T23:35:00Z", "0 0 * Feb Mon/2", "2013-02-01T00:00:00Z"),
    ("2012-12-31T23:59:45Z", "* * * * *", "2013-01-01T00:00:00Z"),
    ("2012-07-09T23:35:00Z", "0 0 29 Feb ?", "2016-02-29T00:00:00Z"),
    ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 30 2 11 Mar ?", "2013-03-11T02:30:00-04:00"),
    ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 0 * * * ?", "2012-03-11T01:00:00-05:00"),
    ("2012-03-11T01:00:00-05:00", "TZ=America/New_York 0 * * * ?", "2012-03-11T03:00:00-04:00"),
    ("2012-03-11T03:00:00-04:00", "TZ=America/New_York 0 * * * ?", "2012-03-11T04:00:00-04:00"),
    (
        "2012-03-11T01:00:00-05:00",
        "CRON_TZ=America/New_York 0 * * * ?",
        "2012-03-11T03:00:00-04:00",
    ),
    ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 0 1 * * ?", "2012-03-11T01:00:00-05:00"),
    ("2012-03-11T01:00:00-05:00", "TZ=America/New_York 0 1 * * ?", "2012-03-12T01:00:00-04:00"),
    ("2012-03-11T00:00:00-05:00", "TZ=America/New_York 0 2 * * ?", "2012-03-12T02:00:00-04:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 30 2 04 Nov ?", "2012-11-04T02:30:00-05:00"),
    ("2012-11-04T01:45:00-04:00", "TZ=America/New_York 30 1 04 Nov ?", "2012-11-04T01:30:00-05:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 * * * ?", "2012-11-04T01:00:00-04:00"),
    ("2012-11-04T01:00:00-04:00", "TZ=America/New_York 0 * * * ?", "2012-11-04T01:00:00-05:00"),
    ("2012-11-04T01:00:00-05:00", "TZ=America/New_York 0 * * * ?", "2012-11-04T02:00:00-05:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 1 * * ?", "2012-11-04T01:00:00-04:00"),
    ("2012-11-04T01:00:00-04:00", "TZ=America/New_York 0 1 * * ?", "2012-11-04T01:00:00-05:00"),
    ("2012-11-04T01:00:00-05:00", "TZ=America/New_York 0 1 * * ?", "2012-11-05T01:00:00-05:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 2 * * ?", "2012-11-04T02:00:00-05:00"),
    ("2012-11-04T02:00:00-05:00", "TZ=America/New_York 0 2 * * ?", "2012-11-05T02:00:00-05:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 3 * * ?", "2012-11-04T03:00:00-05:00"),
    ("2012-11-04T03:00:00-05:00", "TZ=America/New_York 0 3 * * ?", "2012-11-05T03:00:00-05:00"),
    ("2012-11-04T00:00:00-04:00", "TZ=America/New_York 0 3 3 * ?", "2012-12-03T03:00:00-05:00"),
    ("2018-10-17T05:00:00-04:00", "TZ=America/Sao_Paulo 0 9 10 * ?", "2018-11-10T06:00:00-05:00"),
    ("2018-02-14T05:00:00-05:00", "TZ=America/Sao_Paulo 0 9 22 * ?", "2018-02-22T07:00:00-05:00"),
    ("2016-01-03T13:09:03+05:30", "14 14 * * *", "2016-01-03T14:14:00+05:30"),
    ("2016-01-03T04:09:03+05:30", "14 14 * * ?", "2016-01-03T14:14:00+05:30"),
    ("2016-01-03T14:09:03+05:30", "14 14 * * *", "2016-01-03T14:14:00+05:30"),
    ("2016-01-03T14:00:00+05:30", "14 14 * * ?", "2016-01-03T14:14:00+05:30"),
]


@pytest.mark.parametrize(("after", "expression", "expected"), ROBFIG_NEXT)
def test_robfig_next_cases(after: str, expression: str, expected: str) -> None:
    result = cron_schedule(expression).next(datetime.fromisoformat(after))
    assert result is not None
    assert result.astimezone(UTC) == datetime.fromisoformat(expected).astimezone(UTC)


# robfig's TestNext cases without a zone offset, run in New York wall time (Go's local zone).
@pytest.mark.parametrize(
    ("after", "expression", "expected"),
    [
        ("2012-11-04T00:00:00-04:00", "0 * * * ?", "2012-11-04T01:00:00-04:00"),
        ("2012-11-04T01:00:00-04:00", "0 * * * ?", "2012-11-04T01:00:00-05:00"),
        ("2012-11-04T01:00:00-05:00", "0 * * * ?", "2012-11-04T02:00:00-05:00"),
        ("2012-11-04T01:00:00-04:00", "0 1 * * ?", "2012-11-04T01:00:00-05:00"),
        ("2012-11-04T01:00:00-05:00", "0 1 * * ?", "2012-11-05T01:00:00-05:00"),
        ("2012-11-04T00:00:00-04:00", "0 2 * * ?", "2012-11-04T02:00:00-05:00"),
        ("2012-11-04T00:00:00-04:00", "0 3 * * ?", "2012-11-04T03:00:00-05:00"),
    ],
)
def test_robfig_next_in_zone_of_after(after: str, expression: str, expected: str) -> None:
    result = cron_schedule(expression).next(datetime.fromisoformat(after).astimezone(NEW_YORK))
    assert result is not None
    assert result.tzinfo is NEW_YORK
    assert result.isoformat() == iso(expected)


# robfig's TestActivation: a spec fires at `at` exactly when next(at - 1s) == at.
@pytest.mark.parametrize(
    ("at", "expression", "fires"),
    [
        ("2012-07-09T15:00", "0/15 * * * *", True),
        ("2012-07-09T15:45", "0/15 * * * *", True),
        ("2012-07-09T15:40", "0/15 * * * *", False),
        ("2012-07-09T15:05", "5/15 * * * *", True),
        ("2012-07-09T15:50", "5/15 * * * *", True),
        ("2012-07-15T15:00", "0/15 * * Jul *", True),
        ("2012-07-15T15:00", "0/15 * * Jun *", False),
        ("2012-07-15T08:30", "30 08 ? Jul Sun", True),
        ("2012-07-15T08:30", "30 08 15 Jul ?", True),
        ("2012-07-16T08:30", "30 08 ? Jul Sun", False),
        ("2012-07-16T08:30", "30 08 15 Jul ?", False),
        ("2012-07-09T15:00", "@hourly", True),
        ("2012-07-09T15:04", "@hourly", False),
        ("2012-07-09T15:00", "@daily", False),
        ("2012-07-09T00:00", "@daily", True),
        ("2012-07-09T00:00", "@weekly", False),
        ("2012-07-08T00:00", "@weekly", True),
        ("2012-07-08T01:00", "@weekly", False),
        ("2012-07-08T00:00", "@monthly", False),
        ("2012-07-01T00:00", "@monthly", True),
        ("2012-07-15T00:00", "* * 1,15 * Sun", True),
        ("2012-06-15T00:00", "* * 1,15 * Sun", True),
        ("2012-08-01T00:00", "* * 1,15 * Sun", True),
        ("2012-07-15T00:00", "* * */10 * Sun", True),
        ("2012-07-15T00:00", "* * * * Mon", False),
        ("2012-07-09T00:00", "* * 1,15 * *", False),
        ("2012-07-15T00:00", "* * 1,15 * *", True),
        ("2012-07-15T00:00", "* * */2 * Sun", True),
    ],
)
def test_robfig_activation(at: str, expression: str, fires: bool) -> None:
    moment = datetime.fromisoformat(at).replace(tzinfo=UTC)
    assert (cron_schedule(expression).next(moment - timedelta(seconds=1)) == moment) is fires


@pytest.mark.parametrize(
    ("expression", "same_as"),
    [
        ("1,,2 * * * *", "1,2 * * * *"),  # empty list items are skipped
        (",5 * * * *", "5 * * * *"),
        ("+5 * * * *", "5 * * * *"),  # Go's Atoi takes a leading +
        ("005 * * * *", "5 * * * *"),
        ("*-9 * * * *", "* * * * *"),  # robfig ignores what follows `*-`
        ("? ? ? ? ?", "* * * * *"),  # `?` is `*` in every field
        ("0 0 1 jAn,JUL *", "0 0 1 1,7 *"),
        ("0 0 * * FR\u0130", "0 0 * * 5"),  # Go lowercases U+0130 to a plain i
        ("0 0 * * 1/2", "0 0 * * 1,3,5"),  # n/step runs to the maximum
        ("0 0 * * */1", "0 0 * * *"),
        ("\t0 0\u00a0* *\u3000*\n", "0 0 * * *"),  # Go's unicode whitespace
        ("TZ=Local 0 9 * * *", "0 9 * * *"),  # Go's time.Local: the zone of `after`
        ("TZ= 0 9 * * *", "TZ=UTC 0 9 * * *"),  # time.LoadLocation("") is UTC
        ("CRON_TZ=UTC   @daily  ", "CRON_TZ=UTC @daily"),  # trimmed after the prefix
    ],
)
def test_accepted_like_robfig(expression: str, same_as: str) -> None:
    after = datetime(2026, 3, 7, 8, 0, 1, tzinfo=NEW_YORK)
    assert run(expression, after, 8) == run(same_as, after, 8)


@pytest.mark.parametrize(
    "expression",
    [
        " ",
        "@Daily",  # descriptors are case-sensitive
        " @daily",  # not a descriptor, and one field
        "@daily ",
        "@every 1h ",
        "@every  1h",
        "@every",
        "@every ",
        "@every 1",  # missing unit
        "@every .s",
        "@every 1d",
        "@every 9223372036854775808ns",  # above Go's int64 nanoseconds
        "@every 2562048h",
        "TZ=UTC",  # robfig panics on a prefix without a space
        "TZ=UTC\t* * * * *",
        "CRON_TZ=../zoneinfo/UTC * * * * *",
        "CRON_TZ=/etc/localtime * * * * *",
        "CRON_TZ=America/New_York",
        "CRON_TZ=America/New_York ",
        "0 0 * * 7",
        "0 0 * * mon-sun/0",
        "*/-1 * * * *",
        "*/-0 * * * *",
        "*/ * * * *",
        "/5 * * * *",
        "1- * * * *",
        "-5 * * * *",
        "0x1 * * * *",
        "1_0 * * * *",
        "\uff11 * * * *",  # a non-ASCII digit
        "*/99999999999999999999 * * * *",  # beyond int64
        "*/" + "0" * 5000 + "5" + "0" * 20 + " * * * *",
        "0 0 * * monday",
        "0 0 * January *",
        "0 0 mon * *",  # names belong to their own field
        "0 jan * * *",
        "0 0 * * 1/mon",  # steps are numbers
        "0 0 1-l * *",
        "0-60 * * * *",
        "* 23-24 * * *",
        "0 0 31-1 * *",
        "0 0 0 0 0 0",
    ],
)
def test_rejected_like_robfig(expression: str) -> None:
    with pytest.raises(CronSyntaxError):
        cron_schedule(expression)


def test_syntax_error_type_and_message() -> None:
    with pytest.raises(CronSyntaxError) as info:
        cron_schedule("0 9 * * funday")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, RiverError)
    assert str(info.value) == (
        "invalid cron expression '0 9 * * funday': "
        "day of week field 'funday': 'funday' is neither a number nor a day of week name"
    )
    assert info.value.reason.startswith("day of week field")


@pytest.mark.parametrize(
    ("expression", "delay"),
    [
        ("@every 0", timedelta(seconds=1)),
        ("@every -1h", timedelta(seconds=1)),
        ("@every -9223372036854775808ns", timedelta(seconds=1)),
        ("@every 1\u00b5s", timedelta(seconds=1)),
        ("@every 1\u03bcs", timedelta(seconds=1)),
        ("@every 1us", timedelta(seconds=1)),
        ("@every 999ms", timedelta(seconds=1)),
        ("@every 1.999s", timedelta(seconds=1)),
        ("@every +2s", timedelta(seconds=2)),
        ("@every .5m", timedelta(seconds=30)),
        ("@every 1.m", timedelta(minutes=1)),
        ("@every 1h1h", timedelta(hours=2)),
        ("@every 1m30s500ms", timedelta(seconds=90)),
        ("@every 1.0000000000000000000000001h", timedelta(hours=1)),
        ("@every 0.1234567890123456789h", timedelta(seconds=444)),
        ("@every 9223372036854775807ns", timedelta(seconds=9223372036)),
        ("@every 2562047h", timedelta(hours=2562047)),
        ("@every 0000000000000000000000001s", timedelta(seconds=1)),
        ("CRON_TZ=Asia/Tokyo @every 1h", timedelta(hours=1)),  # the zone plays no part
    ],
)
def test_every_delay(expression: str, delay: timedelta) -> None:
    after = datetime(2026, 1, 2, 3, 4, 5, 678900, tzinfo=NEW_YORK)
    result = cron_schedule(expression).next(after)
    assert result is not None
    assert result.tzinfo is NEW_YORK
    assert result.astimezone(UTC) == after.replace(microsecond=0).astimezone(UTC) + delay


def test_every_adds_elapsed_time_across_dst() -> None:
    after = datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK)
    assert run("@every 1h", after, 2) == ["2026-03-08T03:30:00-04:00", "2026-03-08T04:30:00-04:00"]


def test_never_runs_returns_none() -> None:
    after = datetime(2026, 1, 1, tzinfo=UTC)
    for expression in ("0 0 30 2 *", "0 0 31 4,6,9,11 *", ", * * * *", "0 0 , * *"):
        assert cron_schedule(expression).next(after) is None


def test_empty_day_of_month_list_still_matches_weekdays() -> None:
    # robfig ORs the day fields when neither starts with `*`: an empty list matches nothing.
    after = datetime(2026, 1, 1, tzinfo=UTC)
    assert run("0 0 , * mon", after, 2) == [
        "2026-01-05T00:00:00+00:00",
        "2026-01-12T00:00:00+00:00",
    ]


def test_five_year_limit() -> None:
    # robfig gives up once the year passes the start year + 5.
    leap_day = cron_schedule("0 0 29 2 *")
    assert leap_day.next(datetime(2027, 3, 1, tzinfo=UTC)) == datetime(2028, 2, 29, tzinfo=UTC)
    assert leap_day.next(datetime(2028, 3, 1, tzinfo=UTC)) == datetime(2032, 2, 29, tzinfo=UTC)
    # 2100 is not a leap year: after Feb 29 2096 the next is in 2104, past 2096 + 5.
    assert leap_day.next(datetime(2095, 3, 1, tzinfo=UTC)) == datetime(2096, 2, 29, tzinfo=UTC)
    assert leap_day.next(datetime(2096, 2, 29, tzinfo=UTC)) is None


def test_naive_after_raises() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        cron_schedule("* * * * *").next(datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        cron_schedule("@every 1m").next(datetime(2026, 1, 1))


def test_schedule_object() -> None:
    schedule = cron_schedule("CRON_TZ=Europe/Paris 0 9 * * mon-fri")
    assert isinstance(schedule, CronSchedule)
    assert isinstance(schedule, Schedule)
    assert schedule.expression == "CRON_TZ=Europe/Paris 0 9 * * mon-fri"
    assert repr(schedule) == "cron_schedule('CRON_TZ=Europe/Paris 0 9 * * mon-fri')"


def test_result_keeps_the_zone_of_after() -> None:
    after = datetime(2026, 6, 1, 12, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    result = cron_schedule("CRON_TZ=Europe/London 0 9 * * *").next(after)
    assert result is not None
    assert result.isoformat() == "2026-06-01T17:00:00+09:00"


# Properties over generated expressions.


@dataclass(frozen=True)
class Field:
    text: str
    values: frozenset[int]
    star: bool


FIELD_BOUNDS = [
    (0, 59, ()),
    (0, 23, ()),
    (1, 31, ()),
    (1, 12, ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")),
    (0, 6, ("sun", "mon", "tue", "wed", "thu", "fri", "sat")),
]


@st.composite
def cron_fields(draw: st.DrawFn, low: int, high: int, names: tuple[str, ...]) -> Field:
    """One field of a valid expression, with the values and star flag it stands for."""

    def number(value: int) -> str:
        if len(names) > 0 and draw(st.booleans()):
            name = names[value - low]
            return draw(st.sampled_from([name, name.upper(), name.title()]))
        return str(value)

    texts: list[str] = []
    values: set[int] = set()
    star = False
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(
            st.sampled_from(["star", "star_step", "one", "one_step", "range", "range_step"])
        )
        step = draw(st.integers(1, high - low + 2))
        a, b = sorted(draw(st.lists(st.integers(low, high), min_size=2, max_size=2)))
        if kind == "star":
            texts.append(draw(st.sampled_from("*?")))
            values.update(range(low, high + 1))
            star = True
        elif kind == "star_step":
            texts.append(f"*/{step}")
            values.update(range(low, high + 1, step))
            star = star or step == 1
        elif kind == "one":
            texts.append(number(a))
            values.add(a)
        elif kind == "one_step":
            texts.append(f"{number(a)}/{step}")
            values.update(range(a, high + 1, step))
        elif kind == "range":
            texts.append(f"{number(a)}-{number(b)}")
            values.update(range(a, b + 1))
        else:
            texts.append(f"{number(a)}-{number(b)}/{step}")
            values.update(range(a, b + 1, step))
    return Field(",".join(texts), frozenset(values), star)


field_lists = st.tuples(*(cron_fields(low, high, names) for low, high, names in FIELD_BOUNDS))

ZONES: list[tzinfo] = [
    UTC,
    timezone(timedelta(hours=5, minutes=30)),
    timezone(-timedelta(hours=9, minutes=45)),
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/London"),
    ZoneInfo("America/Santiago"),
    ZoneInfo("Australia/Lord_Howe"),  # half-hour DST shifts
    ZoneInfo("Asia/Kathmandu"),
    ZoneInfo("Pacific/Apia"),  # skipped a whole day in 2011
]
FIXED_ZONES = ZONES[:3]
ZONE_NAMES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Pacific/Apia",
]


def afters(zones: list[tzinfo]) -> st.SearchStrategy[datetime]:
    return st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.sampled_from(zones),
    )


@st.composite
def expressions(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["fields", "fields", "fields", "descriptor", "every"]))
    if kind == "fields":
        body = " ".join(field.text for field in draw(field_lists))
    elif kind == "descriptor":
        body = draw(
            st.sampled_from(
                ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"]
            )
        )
    else:
        amount = draw(st.integers(0, 10_000))
        body = f"@every {amount}{draw(st.sampled_from(['ms', 's', 'm', 'h']))}"
    prefix = draw(st.sampled_from(["", "", "CRON_TZ=", "TZ="]))
    return f"{prefix}{draw(st.sampled_from(ZONE_NAMES))} {body}" if prefix else body


def successive_runs(schedule: Schedule, after: datetime, count: int) -> list[datetime]:
    runs: list[datetime] = []
    current = schedule.next(after)
    while current is not None and len(runs) < count:
        runs.append(current)
        current = schedule.next(current)
    return runs


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions(), after=afters(ZONES))
def test_next_is_later_and_aligned(expression: str, after: datetime) -> None:
    runs = successive_runs(cron_schedule(expression), after, 4)
    stamps = [after.timestamp()] + [moment.timestamp() for moment in runs]
    assert stamps == sorted(set(stamps))  # strictly increasing
    for moment in runs:
        assert moment.tzinfo is after.tzinfo
        assert moment.microsecond == 0
        if "@every" not in expression:
            assert moment.second == 0  # a whole minute (every zone here has whole-minute offsets)


def brute_force_next(fields: tuple[Field, ...], after: datetime) -> datetime | None:
    """Scan day by day in `after`'s fixed-offset zone, within robfig's five-year window."""
    minute, hour, day_of_month, month, day_of_week = fields
    start = after.replace(microsecond=0) + timedelta(seconds=1)
    both = day_of_month.star or day_of_week.star
    day = start.date()
    while day.year <= start.year + 5:
        in_month = day.day in day_of_month.values
        in_week = day.isoweekday() % 7 in day_of_week.values
        if day.month in month.values and (
            (in_month and in_week) if both else (in_month or in_week)
        ):
            for h in sorted(hour.values):
                for m in sorted(minute.values):
                    candidate = datetime.combine(day, datetime.min.time(), after.tzinfo)
                    candidate = candidate.replace(hour=h, minute=m)
                    if candidate >= start:
                        return candidate
        day += timedelta(days=1)
    return None


@settings(max_examples=300, deadline=None)
@given(fields=field_lists, after=afters(FIXED_ZONES))
def test_matches_brute_force_without_dst(fields: tuple[Field, ...], after: datetime) -> None:
    expression = " ".join(field.text for field in fields)
    assert cron_schedule(expression).next(after) == brute_force_next(fields, after)


TOKENS = [
    *"0123456789*?/-,. \t+x",
    "59",
    "60",
    "@every ",
    "@daily",
    "CRON_TZ=",
    "TZ=",
    "UTC",
    "America/New_York",
    "jan",
    "MON",
    "h",
    "m",
    "s",
    "ms",
]


@settings(max_examples=500, deadline=None)
@given(text=st.lists(st.sampled_from(TOKENS), max_size=14).map("".join))
def test_arbitrary_text_parses_or_raises_syntax_error(text: str) -> None:
    try:
        schedule = cron_schedule(text)
    except CronSyntaxError:
        return
    after = datetime(2026, 1, 1, tzinfo=UTC)
    result = schedule.next(after)
    assert result is None or result > after


def test_brute_force_oracle_sanity() -> None:
    fields = (
        Field("0", frozenset({0}), False),
        Field("9", frozenset({9}), False),
        Field("*", frozenset(range(1, 32)), True),
        Field("*", frozenset(range(1, 13)), True),
        Field("1", frozenset({1}), False),
    )
    after = datetime(2026, 1, 2, tzinfo=UTC)
    assert brute_force_next(fields, after) == datetime(2026, 1, 5, 9, tzinfo=UTC)  # a Monday
