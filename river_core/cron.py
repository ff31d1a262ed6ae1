"""Cron schedules: robfig/cron v3 `ParseStandard` syntax and `Next` results, as River uses them.

A port of robfig/cron v3.0.1 (parser.go, spec.go, constantdelay.go) and of the parts of Go's
`time` package they rely on (`time.Date` wall-time resolution, `AddDate`, `Truncate`,
`ParseDuration`, `LoadLocation`), so results match Go's exactly, across DST changes too.
No I/O beyond reading the IANA time zone database through `zoneinfo`.

robfig's leniencies are kept, since River accepts them: `?` in any field, empty list items
(`1,,2`), a leading `+` on numbers, anything after `*-` (`*-5` is `*`), `TZ=Local` (the zone of
`after`) and `TZ= ` (UTC).

Differences from Go: an expression that Go would panic on (`TZ=UTC` with nothing after it)
raises `CronSyntaxError`; where robfig returns the zero time (no run within five years),
`next` returns None; and results must fit in `datetime` (years up to 9999), so `next` may raise
`OverflowError` for `after` in the last few representable years.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from river_core.errors import RiverError
from river_core.schedules import zone_of

__all__ = ["CronSchedule", "CronSyntaxError", "cron_schedule"]


class CronSyntaxError(RiverError, ValueError):
    """An expression that robfig/cron's `ParseStandard` rejects."""

    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"invalid cron expression {expression!r}: {reason}")
        self.expression = expression
        self.reason = reason


class CronSchedule:
    """A parsed cron expression; see `cron_schedule`."""

    __slots__ = ("_expression", "_rule")

    def __init__(self, expression: str) -> None:
        try:
            self._rule = _parse(expression)
        except _Rejected as exc:
            raise CronSyntaxError(expression, str(exc)) from None
        self._expression = expression

    @property
    def expression(self) -> str:
        """The expression as given."""
        return self._expression

    def __repr__(self) -> str:
        return f"cron_schedule({self._expression!r})"

    def next(self, after: datetime) -> datetime | None:
        """The first run strictly after `after` (aware), in `after`'s time zone.

        Expressions without a `CRON_TZ=`/`TZ=` prefix are read in `after`'s time zone. None if
        there is no run within five years (robfig's limit), e.g. for `0 0 30 2 *`.
        """
        return self._rule.next(after)


def cron_schedule(expression: str) -> CronSchedule:
    """Parse a cron expression as robfig/cron v3 `ParseStandard` does.

    Five fields (minute hour day-of-month month day-of-week) with `*`, `?`, numbers, JAN-DEC and
    SUN-SAT names, ranges, steps and lists; or `@yearly`, `@annually`, `@monthly`, `@weekly`,
    `@daily`, `@midnight`, `@hourly`, `@every <Go duration>`; optionally prefixed by
    `CRON_TZ=<IANA zone> ` or `TZ=<IANA zone> `. Raises `CronSyntaxError` otherwise.
    """
    return CronSchedule(expression)


class _Rejected(Exception):
    """Why an expression is invalid; becomes a `CronSyntaxError`."""


_ZERO = timedelta(0)
_SECOND = timedelta(seconds=1)
_MINUTE = timedelta(minutes=1)
_HOUR = timedelta(hours=1)

# Go's unicode.IsSpace, used by strings.Fields and strings.TrimSpace.
_GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680"
    + "".join(map(chr, range(0x2000, 0x200B)))
    + "\u2028\u2029\u202f\u205f\u3000"
)
_GO_FIELD = re.compile(f"[^{re.escape(_GO_SPACE)}]+")
_GO_INT = re.compile(r"[+-]?[0-9]+")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


@dataclass(frozen=True, slots=True)
class _Bounds:
    name: str
    low: int
    high: int
    names: Mapping[str, int]


_MINUTES = _Bounds("minute", 0, 59, {})
_HOURS = _Bounds("hour", 0, 23, {})
_DAYS_OF_MONTH = _Bounds("day of month", 1, 31, {})
_MONTHS = _Bounds(
    "month",
    1,
    12,
    {
        name: number
        for number, name in enumerate(
            ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
            start=1,
        )
    },
)
_DAYS_OF_WEEK = _Bounds(
    "day of week",
    0,
    6,
    {name: number for number, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))},
)


@dataclass(frozen=True, slots=True)
class _Field:
    """One parsed field: a bit per allowed value, and robfig's star bit."""

    bits: int
    star: bool

    def __or__(self, other: _Field) -> _Field:
        return _Field(self.bits | other.bits, self.star or other.star)

    def allows(self, value: int) -> bool:
        return bool(self.bits >> value & 1)


def _every_value(bounds: _Bounds) -> _Field:
    """robfig's `all(bounds)`: every value, star bit set."""
    return _Field(_bits(bounds.low, bounds.high, 1), True)


def _only(value: int) -> _Field:
    return _Field(1 << value, False)


def _bits(start: int, end: int, step: int) -> int:
    return sum(1 << value for value in range(start, end + 1, step))


@dataclass(frozen=True, slots=True)
class _SpecRule:
    """robfig's `SpecSchedule` with its seconds field fixed at 0, as in `ParseStandard`."""

    minute: _Field
    hour: _Field
    day_of_month: _Field
    month: _Field
    day_of_week: _Field
    zone: tzinfo | None  # None: the time zone of the `after` given to `next`

    def next(self, after: datetime) -> datetime | None:
        """robfig's `SpecSchedule.Next`; None where it returns the zero time."""
        origin = zone_of(after)
        zone = origin if self.zone is None else self.zone
        t = after.astimezone(UTC).replace(microsecond=0) + _SECOND
        year_limit = t.astimezone(zone).year + 5
        added = False
        while t.astimezone(zone).year <= year_limit:
            t, added, found = self._scan(t, zone, added)
            if found:
                return t.astimezone(origin)
        return None

    def _scan(self, t: datetime, zone: tzinfo, added: bool) -> tuple[datetime, bool, bool]:
        """One pass of `Next` from its WRAP label: the new `t` and `added`, and whether `t` is
        the answer (else a field wrapped around and the caller goes back to WRAP).

        `t` is an instant in UTC; its fields are read in `zone`, as Go reads `t` in `loc`.
        """
        while not self.month.allows(t.astimezone(zone).month):
            if not added:
                added = True
                wall = t.astimezone(zone)
                t = _go_date(zone, wall.year, wall.month, 1)
            t = _add_date(t, zone, months=1)
            if t.astimezone(zone).month == 1:
                return t, added, False

        while not self._day_matches(t.astimezone(zone)):
            if not added:
                added = True
                wall = t.astimezone(zone)
                t = _go_date(zone, wall.year, wall.month, wall.day)
            t = _add_date(t, zone, days=1)
            # A DST change moved midnight: go back to it (hour 1) or on to the next one (hour 23).
            hour = t.astimezone(zone).hour
            if hour != 0:
                t += _HOUR * (24 - hour if hour > 12 else -hour)
            if t.astimezone(zone).day == 1:
                return t, added, False

        while not self.hour.allows(t.astimezone(zone).hour):
            if not added:
                added = True
                wall = t.astimezone(zone)
                t = _go_date(zone, wall.year, wall.month, wall.day, timedelta(hours=wall.hour))
            t += _HOUR
            if t.astimezone(zone).hour == 0:
                return t, added, False

        while not self.minute.allows(t.astimezone(zone).minute):
            if not added:
                added = True
                t = t.replace(second=0)  # Go's Truncate(time.Minute): on the instant, not the wall
            t += _MINUTE
            if t.astimezone(zone).minute == 0:
                return t, added, False

        while t.astimezone(zone).second != 0:
            # Go truncates to the second here, a no-op: with `added` unset `t` is still the start.
            added = True
            t += _SECOND
            if t.astimezone(zone).second == 0:
                return t, added, False

        return t, added, True

    def _day_matches(self, wall: datetime) -> bool:
        """robfig's `dayMatches`: both fields must match if either starts with `*` or `?`."""
        in_month = self.day_of_month.allows(wall.day)
        in_week = self.day_of_week.allows(wall.isoweekday() % 7)
        if self.day_of_month.star or self.day_of_week.star:
            return in_month and in_week
        return in_month or in_week


@dataclass(frozen=True, slots=True)
class _EveryRule:
    """robfig's `ConstantDelaySchedule` (`@every`): whole seconds, time zone prefix ignored."""

    delay: timedelta

    def next(self, after: datetime) -> datetime:
        origin = zone_of(after)
        return (after.astimezone(UTC).replace(microsecond=0) + self.delay).astimezone(origin)


def _go_date(zone: tzinfo, year: int, month: int, day: int, clock: timedelta = _ZERO) -> datetime:
    """Go's `time.Date` as a UTC instant: out-of-range months and days roll over, and a wall
    time in a DST gap or overlap resolves the way Go resolves it."""
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    wall = datetime(year, month, 1, tzinfo=UTC) + timedelta(days=day - 1) + clock
    # Go takes the zone offset in force at the wall time read as UTC, then, if the instant
    # that gives lies outside that offset's period, the offset in force at that instant.
    return wall - _offset(wall - _offset(wall, zone), zone)


def _offset(instant: datetime, zone: tzinfo) -> timedelta:
    """The UTC offset of `zone` at a UTC instant."""
    return instant.astimezone(zone).replace(tzinfo=None) - instant.replace(tzinfo=None)


def _add_date(t: datetime, zone: tzinfo, *, months: int = 0, days: int = 0) -> datetime:
    """Go's `Time.AddDate(0, months, days)` for `t` read in `zone`."""
    wall = t.astimezone(zone)
    clock = timedelta(
        hours=wall.hour, minutes=wall.minute, seconds=wall.second, microseconds=wall.microsecond
    )
    return _go_date(zone, wall.year, wall.month + months, wall.day + days, clock)


# Parsing.


def _parse(spec: str) -> _SpecRule | _EveryRule:
    """robfig's `Parser.Parse` with `ParseStandard`'s options."""
    if not spec:
        raise _Rejected("empty expression")
    zone: tzinfo | None = None
    if spec.startswith(("TZ=", "CRON_TZ=")):
        space = spec.find(" ")
        if space < 0:
            raise _Rejected("a time zone prefix must be followed by a space and a schedule")
        zone = _load_location(spec[spec.index("=") + 1 : space])
        spec = spec[space:].strip(_GO_SPACE)
    if spec.startswith("@"):
        return _parse_descriptor(spec, zone)
    fields = _GO_FIELD.findall(spec)
    if len(fields) != 5:
        raise _Rejected(
            f"expected 5 fields (minute hour day-of-month month day-of-week), found {len(fields)}"
        )
    minute, hour, day_of_month, month, day_of_week = (
        _parse_field(text, bounds)
        for text, bounds in zip(
            fields, (_MINUTES, _HOURS, _DAYS_OF_MONTH, _MONTHS, _DAYS_OF_WEEK), strict=True
        )
    )
    return _SpecRule(minute, hour, day_of_month, month, day_of_week, zone)


def _load_location(name: str) -> tzinfo | None:
    """Go's `time.LoadLocation`; None for `Local`, which robfig reads as `after`'s zone."""
    if name in ("", "UTC"):
        return UTC
    if name == "Local":
        return None
    if ".." in name or name.startswith(("/", "\\")):
        raise _Rejected(f"invalid time zone name {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _Rejected(f"unknown time zone {name!r}") from None


def _parse_descriptor(descriptor: str, zone: tzinfo | None) -> _SpecRule | _EveryRule:
    """robfig's `parseDescriptor`: exact, case-sensitive names, or `@every <duration>`."""
    midnight, any_hour = _only(0), _every_value(_HOURS)
    any_day, any_month, any_weekday = (
        _every_value(_DAYS_OF_MONTH),
        _every_value(_MONTHS),
        _every_value(_DAYS_OF_WEEK),
    )
    match descriptor:
        case "@yearly" | "@annually":
            return _SpecRule(_only(0), midnight, _only(1), _only(1), any_weekday, zone)
        case "@monthly":
            return _SpecRule(_only(0), midnight, _only(1), any_month, any_weekday, zone)
        case "@weekly":
            return _SpecRule(_only(0), midnight, any_day, any_month, _only(0), zone)
        case "@daily" | "@midnight":
            return _SpecRule(_only(0), midnight, any_day, any_month, any_weekday, zone)
        case "@hourly":
            return _SpecRule(_only(0), any_hour, any_day, any_month, any_weekday, zone)
    every = "@every "
    if descriptor.startswith(every):
        nanoseconds = max(_parse_go_duration(descriptor[len(every) :]), 1_000_000_000)
        return _EveryRule(timedelta(seconds=nanoseconds // 1_000_000_000))
    raise _Rejected(f"unknown descriptor {descriptor!r}")


def _parse_field(text: str, bounds: _Bounds) -> _Field:
    """robfig's `getField`: a comma-separated list of ranges; empty items are skipped."""
    field = _Field(0, False)
    try:
        for expr in text.split(","):
            if expr:
                field |= _parse_range(expr, bounds)
    except _Rejected as exc:
        raise _Rejected(f"{bounds.name} field {text!r}: {exc}") from None
    return field


def _parse_range(expr: str, bounds: _Bounds) -> _Field:
    """robfig's `getRange`: `*`, `?`, `n`, `a-b`, each optionally `/step` (`n/step`: n to max)."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    star = low_and_high[0] in ("*", "?")  # robfig ignores anything after `*-`
    if star:
        start, end = bounds.low, bounds.high
    else:
        start = _int_or_name(low_and_high[0], bounds)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _int_or_name(low_and_high[1], bounds)
        else:
            raise _Rejected(f"too many hyphens in {expr!r}")

    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _go_uint(range_and_step[1])
        if len(low_and_high) == 1:
            end = bounds.high
        star = star and step <= 1  # `*/1` keeps the star; robfig then rejects `*/0` below
    else:
        raise _Rejected(f"too many slashes in {expr!r}")

    if start < bounds.low:
        raise _Rejected(f"{start} is below the minimum {bounds.low}")
    if end > bounds.high:
        raise _Rejected(f"{end} is above the maximum {bounds.high}")
    if start > end:
        raise _Rejected(f"range start {start} is after its end {end}")
    if step == 0:
        raise _Rejected("the step must be positive")
    return _Field(_bits(start, end, step), star)


def _int_or_name(text: str, bounds: _Bounds) -> int:
    # Go's strings.ToLower maps U+0130 (capital I with dot) to a plain "i".
    named = bounds.names.get(text.replace("\u0130", "i").lower())
    if named is not None:
        return named
    if bounds.names and not _GO_INT.fullmatch(text):
        raise _Rejected(f"{text!r} is neither a number nor a {bounds.name} name")
    return _go_uint(text)


def _go_uint(text: str) -> int:
    """robfig's `mustParseInt`: Go's `strconv.Atoi` (optional sign, ASCII digits, int64), >= 0."""
    if not _GO_INT.fullmatch(text):
        raise _Rejected(f"{text!r} is not a number")
    sign = -1 if text[0] == "-" else 1
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > 19 or not _INT64_MIN <= sign * int(digits) <= _INT64_MAX:
        raise _Rejected(f"{text} is out of range")
    value = sign * int(digits)
    if value < 0:
        raise _Rejected(f"{text} is negative")
    return value


_DURATION_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def _parse_go_duration(text: str) -> int:
    """Go's `time.ParseDuration`, in nanoseconds."""
    invalid = _Rejected(f"invalid duration {text!r}")
    rest = text
    negative = rest[:1] == "-"
    if rest[:1] in ("-", "+"):
        rest = rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise invalid
    total = 0
    while rest:
        part = _DURATION_PART.match(rest)
        assert part is not None  # every group may be empty
        whole, fraction, unit_name = part.groups()
        rest = rest[part.end() :]
        if not whole and not fraction:
            raise invalid  # no digits, e.g. ".s"
        if not unit_name:
            raise _Rejected(f"missing unit in duration {text!r}")
        unit = _DURATION_UNITS.get(unit_name)
        if unit is None:
            raise _Rejected(f"unknown unit {unit_name!r} in duration {text!r}")
        significant = whole.lstrip("0") or "0"
        if len(significant) > 19 or int(significant) > (1 << 63) // unit:
            raise invalid
        value = int(significant) * unit
        numerator, scale = _go_leading_fraction(fraction or "")
        if numerator:
            # Go computes the fraction in float64, so do the same to round identically.
            value += int(float(numerator) * (float(unit) / scale))
            if value > 1 << 63:
                raise invalid
        total = (total + value) % (1 << 64)  # uint64, as in Go
        if total > 1 << 63:
            raise invalid
    if negative:
        return -total
    if total > _INT64_MAX:
        raise invalid
    return total


def _go_leading_fraction(digits: str) -> tuple[int, float]:
    """Go's `leadingFraction`: digits after the point, with precision capped below 2**63."""
    numerator, scale = 0, 1.0
    for digit in digits:
        if numerator > _INT64_MAX // 10:
            break
        candidate = numerator * 10 + int(digit)
        if candidate > 1 << 63:
            break
        numerator, scale = candidate, scale * 10
    return numerator, scale
