"""The environment's EventBridge Scheduler schedules: their names (the constructs name them, the CLI reads
them back with GetSchedule) and when each runs next.

Rules (EventBridge Scheduler user guide, "Schedule types on EventBridge Scheduler"):
- ``rate(<n> <unit>)`` runs every n units from the schedule's ``StartDate``, or from its creation when it
  has none ("starts invoking immediately"); a day is 24 hours, whatever daylight saving time does.
- ``cron(minutes hours day-of-month month day-of-week year)`` is evaluated in the schedule's time zone;
  day-of-week counts 1-7 from Sunday (SUN-SAT); ``?``, ``L``, ``W`` and ``#`` as in the guide. When the
  clocks go forward, a time that does not exist that day is skipped; when they go back, a time that occurs
  twice runs once.
The cron arithmetic is croniter's (pinned); this module only translates the expression to croniter's
dialect (numbered days of the week from 0 = Sunday, seconds and year as sixth and seventh fields).
"""

from __future__ import annotations

import datetime as dt
import math
import re
from zoneinfo import ZoneInfo

COST_GUARD = "cost-guard"
REFRESH = "refresh"
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_CRON = re.compile(r"^cron\((.+)\)$")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
_LOOKAHEAD = 400  # candidates croniter may offer before one is real (skipped DST times are rare)


class UnsupportedSchedule(ValueError):
    """An expression this module cannot evaluate (e.g. ``LW``): the status shows the expression instead."""


def schedule_name(name_prefix: str, which: str) -> str:
    """``<name_prefix>-cost-guard`` / ``<name_prefix>-refresh``: botocore scheduler CreateSchedule.Name,
    1-64 characters of ``[0-9a-zA-Z-_.]`` (name_prefix is at most 20 lowercase letters, digits, '-')."""
    return f"{name_prefix}-{which}"


def next_run(
    expression: str, time_zone: str, after: dt.datetime, *, anchor: dt.datetime | None = None
) -> dt.datetime | None:
    """The first run strictly after ``after`` (aware), in UTC; None when the expression has no future run.
    ``anchor`` (StartDate, else CreationDate) is required for a rate expression."""
    rate = _RATE.match(expression)
    if rate:
        if anchor is None:
            raise UnsupportedSchedule(f"{expression}: the schedule's start or creation time is needed")
        unit = rate.group(2).rstrip("s") + "s"
        period = dt.timedelta(**{unit: int(rate.group(1))})
        if after < anchor:
            return anchor.astimezone(dt.UTC)
        steps = math.floor((after - anchor) / period) + 1
        return (anchor + steps * period).astimezone(dt.UTC)
    cron = _CRON.match(expression)
    if not cron:
        raise UnsupportedSchedule(f"{expression}: not a rate or cron expression")
    return _next_cron(cron.group(1), ZoneInfo(time_zone), after)


def _next_cron(fields: str, zone: ZoneInfo, after: dt.datetime) -> dt.datetime | None:
    parts = fields.split()
    if len(parts) != 6:
        raise UnsupportedSchedule(f"cron({fields}): six fields expected")
    minutes, hours, day_of_month, month, day_of_week, year = parts
    expression = " ".join([minutes, hours, day_of_month, month, _day_of_week(day_of_week), "0", year])
    from croniter import croniter  # the CLI's, not synth's: the constructs only take the names from here

    try:
        candidates = croniter(expression, after.astimezone(zone))
        expanded = candidates.expanded
    except (ValueError, KeyError) as error:  # croniter's errors derive from ValueError
        raise UnsupportedSchedule(f"cron({fields}): {error}") from None
    for _ in range(_LOOKAHEAD):
        try:
            candidate: dt.datetime = candidates.get_next(dt.datetime)
        except (StopIteration, ValueError):  # croniter ends a finite expression (a past year) this way
            return None
        if _skipped(candidate, expanded) or _second_occurrence(candidate):
            continue
        return candidate.astimezone(dt.UTC)
    return None


def _day_of_week(field: str) -> str:
    """EventBridge's 1-7 (SUN-SAT) as croniter's names; ``5L`` (last Thursday) as croniter's ``L4``."""
    if field in ("?", "*"):
        return field
    items = []
    for item in field.split(","):
        last = re.fullmatch(r"(\w+)L", item)
        if last:
            items.append(f"L{_DAYS.index(_day(last.group(1)))}")
            continue
        day, hash_sign, nth = item.partition("#")
        day, slash, step = day.partition("/")
        named = "-".join(_day(part) for part in day.split("-")) if day != "*" else day
        items.append(f"{named}{slash}{step}{hash_sign}{nth}")
    return ",".join(items)


def _day(token: str) -> str:
    if token.isdigit():
        number = int(token)
        if not 1 <= number <= 7:
            raise UnsupportedSchedule(f"day of week {token}: EventBridge counts 1-7 (SUN-SAT)")
        return _DAYS[number - 1]
    if token.upper() not in _DAYS:
        raise UnsupportedSchedule(f"day of week {token}: not one of {', '.join(_DAYS)}")
    return token.upper()


def _skipped(candidate: dt.datetime, expanded: list[list[object]]) -> bool:
    """croniter moves a time the clocks skip (spring forward) to the next real one; the service skips it."""
    minutes, hours = expanded[0], expanded[1]
    return (minutes != ["*"] and candidate.minute not in minutes) or (hours != ["*"] and candidate.hour not in hours)


def _second_occurrence(candidate: dt.datetime) -> bool:
    """The repeated hour when the clocks go back: the service runs the wall-clock time once."""
    return candidate.fold == 1 and candidate.replace(fold=0).utcoffset() != candidate.utcoffset()
