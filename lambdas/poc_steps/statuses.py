"""Personalize status strings (from the service model's documentation) and what each means for a
create-and-wait loop."""

from __future__ import annotations

from typing import Literal

State = Literal["READY", "WAITING", "FAILED"]

READY_STATUSES = frozenset({"ACTIVE"})
# Batch jobs spell IN PROGRESS without the underscore; resources use CREATE IN_PROGRESS.
WAITING_STATUSES = frozenset(
    {
        "CREATE PENDING",
        "CREATE IN_PROGRESS",
        "CREATE STOPPING",
        "PENDING",
        "IN PROGRESS",
        "IN_PROGRESS",
        "UPDATE PENDING",
        "UPDATE IN_PROGRESS",
        # Recommenders (botocore Recommender.status): STOP PENDING > STOP IN_PROGRESS > INACTIVE >
        # START PENDING > START IN_PROGRESS > ACTIVE.
        "STOP PENDING",
        "STOP IN_PROGRESS",
        "START PENDING",
        "START IN_PROGRESS",
        # A stopped recommender: the ensure step starts it again and waits (ensure_recommender.py).
        "INACTIVE",
    }
)
FAILED_STATUSES = frozenset({"CREATE FAILED", "CREATE STOPPED", "FAILED", "UPDATE FAILED"})
DELETING_STATUSES = frozenset({"DELETE PENDING", "DELETE IN_PROGRESS"})
DELETE_FAILED = "DELETE FAILED"


def state_of(status: str) -> State:
    """Every status is classified; an unknown one fails loudly rather than being polled forever."""
    if status in READY_STATUSES:
        return "READY"
    if status in WAITING_STATUSES:
        return "WAITING"
    if status in FAILED_STATUSES or status in DELETING_STATUSES or status == DELETE_FAILED:
        return "FAILED"
    raise ValueError(f"unknown Personalize status '{status}'")
