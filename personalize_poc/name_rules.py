"""Personalize's name rules (length and pattern of `name` / `jobName`) from botocore's service model.

The model is parsed once per process: each parse reads the whole model, and synth, the plan and the CLI
all ask for several operations' rules.
"""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def personalize_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("personalize")


@functools.cache
def name_rule(operation: str) -> tuple[int, str]:
    """(maximum length, pattern) of `operation`'s `name`, or `jobName` for the job operations."""
    members = personalize_model().operation_model(operation).input_shape.members
    shape = members["name"] if "name" in members else members["jobName"]
    return int(shape.metadata["max"]), str(shape.metadata["pattern"])
