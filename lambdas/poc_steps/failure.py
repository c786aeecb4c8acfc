"""Turns a caught Step Functions error into the one-line error and cause a user reads."""

from __future__ import annotations

import json
from typing import Any


def describe_failure(caught: dict[str, Any]) -> dict[str, str]:
    error = str(caught.get("Error") or "States.Runtime")
    cause = caught.get("Cause") or ""
    message = cause
    try:
        parsed = json.loads(cause)
    except (TypeError, ValueError):
        parsed = None
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        error = str(parsed.get("errorType") or error)
        message = str(parsed["errorMessage"])
    # SNS subjects must be shorter than 100 characters.
    return {"error": error, "cause": message or error, "subject": f"Personalize POC run failed: {error}"[:99]}
