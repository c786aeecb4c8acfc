"""How long a wait loop waits before its next check: intervals that grow with the time already waited,
so an execution's history stays bounded whatever the service's durations.

Why: Step Functions fails an execution whose history reaches 25,000 events, and no Catch sees it (no
notification; campaigns keep billing). One check of a wait loop is 9 events (task 5, Choice 2, Wait 2),
so fixed intervals fill the history with the service's duration: four trainings at 120 s would fill it
after ~22 h, three imports at 60 s after ~15 h. Growing the interval keeps the checks per resource
nearly logarithmic in its duration until the cap, then one per ``MAX_WAIT_SECONDS``.

The rule, for a loop with the configured ``interval`` and ``timeout`` that has waited ``waited`` seconds:

    wait = min(MAX_WAIT_SECONDS, max(interval, GROWTH * waited)), and never past the timeout

* the first checks come every ``interval`` (quick resources are seen as promptly as before);
* from ``interval / GROWTH`` on, each wait is a tenth of the time already waited, so a resource is
  noticed at most ~10 % of its own duration late (a 90-minute training: at most ~9 minutes);
* never more than ``MAX_WAIT_SECONDS`` (1 hour) between checks, however long the resource takes;
* the last wait ends exactly at the timeout, so the loop's bound is the configured timeout.

Worst case per resource (a loop that runs to its timeout T; interval i no longer than the cap):

    checks <= 1/GROWTH + log(MAX_WAIT/i) / log(1 + GROWTH) + max(0, T - MAX_WAIT/GROWTH) / MAX_WAIT + 2

With the default polling settings (``worst_case_checks``; 9 history events per check): training
(120 s, 48 h) 85 checks, 765 events; import (60 s, 24 h) 69; batch job (120 s, 24 h) 61; campaign
(60 s, 6 h) 49; filter and event tracker (15 s, 1 h) 45; dataset group, dataset, solution (10 s,
30 min) 42. At fixed intervals the training alone was 1,440 checks, 12,960 events.
tests/test_rehearsal_limits.py checks the bound, and that ten solutions training 40 hours with
20-hour imports stay far below the 25,000-event quota.

Chosen over one child execution per solution (``StartExecution.sync:2``): a child's own 25,000 events
do not bound a 48-hour training at 120 s (12,960 events) plus its batch job and campaigns, and imports
run in the parent anyway, so intervals must grow either way; growing them alone keeps one execution to
read and one role, with no EventBridge rule for ``.sync``.
"""

from __future__ import annotations

import math
from typing import Any

#: Each wait is this fraction of the time already waited (once that exceeds the configured interval).
GROWTH = 0.1
#: The longest wait between two checks, whatever the resource.
MAX_WAIT_SECONDS = 3600


def next_wait_seconds(interval_seconds: int, timeout_seconds: int, waited_seconds: int) -> int:
    """Seconds to wait before the next check; at least 1 (a Wait state's SecondsPath needs a positive
    integer) and never past the timeout."""
    interval = max(1, int(interval_seconds))
    grown = max(interval, math.floor(GROWTH * max(0, waited_seconds)))
    wait = min(max(MAX_WAIT_SECONDS, interval), grown)
    remaining = int(timeout_seconds) - int(waited_seconds)
    return max(1, min(wait, remaining))


def check_times(interval_seconds: int, timeout_seconds: int) -> list[int]:
    """Seconds waited at each check of a loop that runs to its timeout (the first check at 0)."""
    times, waited = [0], 0
    while waited < timeout_seconds:
        waited += next_wait_seconds(interval_seconds, timeout_seconds, waited)
        times.append(waited)
    return times


def worst_case_checks(interval_seconds: int, timeout_seconds: int) -> int:
    return len(check_times(interval_seconds, timeout_seconds))


def loop_fields(event: dict[str, Any]) -> dict[str, Any]:
    """What the wait loop carries from one check to the next: the time waited so far (summed by Step
    Functions from the waits it really did) and the next wait."""
    polling = event.get("polling") or {}
    interval = int(polling.get("intervalSeconds", 60))
    timeout = int(polling.get("timeoutSeconds", 3600))
    waited = int(event.get("waitedSeconds") or 0)
    return {
        "waitedSeconds": waited,
        "waitSeconds": next_wait_seconds(interval, timeout, waited),
        "timeoutSeconds": timeout,
    }


def describe_duration(seconds: int) -> str:
    if seconds % 3600 == 0 and seconds >= 3600:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0 and seconds >= 60:
        return f"{seconds // 60} min"
    return f"{seconds} s"
