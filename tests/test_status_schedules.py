"""When a schedule runs next (personalize_poc/schedules.py), as `personalize-poc status` prints it: EventBridge
Scheduler's rate and cron expressions in their time zone, at fixed times (EventBridge Scheduler user guide,
"Schedule types on EventBridge Scheduler")."""

from __future__ import annotations

import datetime as dt

import pytest

from personalize_poc.schedules import UnsupportedSchedule, next_run, schedule_name

UTC = dt.UTC
CREATED = dt.datetime(2026, 11, 2, 9, 15, tzinfo=UTC)


def at(*fields: int) -> dt.datetime:
    return dt.datetime(*fields, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("expression", "now", "expected"),
    [
        ("rate(1 hour)", at(2026, 11, 3, 12, 0), at(2026, 11, 3, 12, 15)),  # hourly from its creation
        ("rate(1 hour)", at(2026, 11, 3, 12, 15), at(2026, 11, 3, 13, 15)),  # strictly after now
        ("rate(6 hours)", at(2026, 11, 2, 16, 0), at(2026, 11, 2, 21, 15)),
        ("rate(1 day)", at(2026, 11, 5, 0, 0), at(2026, 11, 5, 9, 15)),
        ("rate(15 minutes)", at(2026, 11, 2, 9, 0), CREATED),  # before its creation: the first run is then
    ],
)
def test_a_rate_runs_every_period_from_its_start(expression: str, now: dt.datetime, expected: dt.datetime) -> None:
    assert next_run(expression, "UTC", now, anchor=CREATED) == expected


def test_a_rate_needs_its_start() -> None:
    with pytest.raises(UnsupportedSchedule, match="start or creation time"):
        next_run("rate(1 hour)", "UTC", CREATED)


@pytest.mark.parametrize(
    ("expression", "zone", "now", "expected"),
    [
        # Day of week counts 1-7 from Sunday: 2 is Monday (2026-11-09); 06:00 in Paris is 05:00 UTC in winter.
        ("cron(0 6 ? * 2 *)", "Europe/Paris", at(2026, 11, 4, 12, 0), at(2026, 11, 9, 5, 0)),
        ("cron(0 6 ? * MON *)", "Europe/Paris", at(2026, 11, 4, 12, 0), at(2026, 11, 9, 5, 0)),
        ("cron(0 6 ? * 2-6 *)", "UTC", at(2026, 11, 7, 0, 0), at(2026, 11, 9, 6, 0)),  # Saturday -> Monday
        ("cron(0 6 ? * 5L *)", "UTC", at(2026, 11, 1, 0, 0), at(2026, 11, 26, 6, 0)),  # last Thursday
        ("cron(0 6 ? * 3#2 *)", "UTC", at(2026, 11, 1, 0, 0), at(2026, 11, 10, 6, 0)),  # second Tuesday
        ("cron(0/15 * * * ? *)", "UTC", at(2026, 11, 7, 0, 7), at(2026, 11, 7, 0, 15)),
        ("cron(0 6 L * ? *)", "UTC", at(2026, 11, 1, 0, 0), at(2026, 11, 30, 6, 0)),  # last day of the month
        ("cron(0 6 1 1 ? 2028)", "UTC", at(2026, 11, 7, 0, 0), at(2028, 1, 1, 6, 0)),  # the year field
        ("cron(0 8 * * ? *)", "America/New_York", at(2026, 7, 1, 0, 0), at(2026, 7, 1, 12, 0)),  # EDT
    ],
)
def test_a_cron_runs_in_its_time_zone(expression: str, zone: str, now: dt.datetime, expected: dt.datetime) -> None:
    assert next_run(expression, zone, now) == expected


def test_a_time_the_clocks_skip_is_skipped() -> None:
    """Paris skips 02:00-03:00 on 2026-03-29: a 02:30 schedule next runs on the 30th (00:30 UTC)."""
    assert next_run("cron(30 2 * * ? *)", "Europe/Paris", at(2026, 3, 28, 12, 0)) == at(2026, 3, 30, 0, 30)


def test_a_time_the_clocks_repeat_runs_once() -> None:
    """Paris goes back from 03:00 to 02:00 on 2026-10-25: 02:30 happens at 00:30 and 01:30 UTC; it runs at the first."""
    first = next_run("cron(30 2 * * ? *)", "Europe/Paris", at(2026, 10, 25, 0, 0))
    after_first = next_run("cron(30 2 * * ? *)", "Europe/Paris", at(2026, 10, 25, 0, 40))
    assert (first, after_first) == (at(2026, 10, 25, 0, 30), at(2026, 10, 26, 1, 30))


def test_a_cron_in_a_past_year_has_no_next_run() -> None:
    assert next_run("cron(0 6 1 1 ? 2020)", "UTC", at(2026, 11, 7, 0, 0)) is None


@pytest.mark.parametrize("expression", ["cron(0 6 LW * ? *)", "cron(0 6 ? * 8 *)", "at(2026-11-02T09:00:00)"])
def test_what_cannot_be_evaluated_says_so(expression: str) -> None:
    with pytest.raises(UnsupportedSchedule):
        next_run(expression, "UTC", CREATED)


def test_schedule_names_fit_the_scheduler() -> None:
    """botocore scheduler CreateSchedule.Name: 1-64 of [0-9a-zA-Z-_.]; name_prefix is at most 20 characters."""
    longest = schedule_name("p" * 20, "cost-guard")
    assert len(longest) <= 64 and longest == "pppppppppppppppppppp-cost-guard"
