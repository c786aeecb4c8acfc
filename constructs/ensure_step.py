"""Create-and-wait for one Personalize resource, as native Step Functions states:

    Start (attempt 0, waited 0) -> Ensure (Lambda: find / create / reuse, report state, next wait) -> Ready?
        READY                          -> next state
        waited >= the kind's timeout   -> Fail (error and cause from the last check: which resource,
                                          which timeout, the last status or the quota it waited for)
        otherwise                      -> Wait <the check's waitSeconds> -> Ensure

The wait grows with the time already waited (lambdas/poc_steps/polling.py: the configured interval
first, then a tenth of the time waited, at most an hour), so the execution's history stays bounded
whatever the service's durations (Step Functions fails an execution at 25,000 events, uncaught).
Step Functions itself sums the waits it did (``waitedSeconds``), so the bound is the configured timeout.

Failures of the resource itself are raised by the Lambda (error `ResourceFailed`, cause = the
service's failureReason) and end the loop; throttling and busy errors are retried with backoff; a
quota (LimitExceededException) is waited for inside the loop by the ensure handler, up to the timeout.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks

from constructs import Construct

THROTTLE_ERRORS = ["Throttled", "ResourceBusy"]
QUOTA_ERRORS = ["QuotaExceeded"]
LAMBDA_TRANSIENT_ERRORS = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


@functools.cache
def _retry_settings() -> tuple[dict[str, Any], ...]:
    """The three Retry policies' settings (their Durations and jitter are jsii objects: made once per
    process, not once per task: every EnsureAndWait task takes the same)."""
    full = sfn.JitterType.FULL
    return (
        {
            "errors": LAMBDA_TRANSIENT_ERRORS,
            "interval": Duration.seconds(2),
            "max_attempts": 6,
            "backoff_rate": 2,
            "jitter_strategy": full,
        },
        {
            "errors": THROTTLE_ERRORS,
            "interval": Duration.seconds(5),
            "max_attempts": 8,
            "backoff_rate": 2,
            "max_delay": Duration.minutes(5),
            "jitter_strategy": full,
        },
        {
            "errors": QUOTA_ERRORS,
            "interval": Duration.minutes(2),
            "max_attempts": 6,
            "backoff_rate": 2,
            "max_delay": Duration.minutes(30),
            "jitter_strategy": full,
        },
    )


def add_step_retries(task: sfn.TaskStateBase, *, quota: bool = True) -> None:
    """Backoff with full jitter: transient Lambda errors and throttling/busy quickly, quotas slowly (work
    elsewhere must finish). ``quota=False`` for wait loops, which wait for a quota in their own Wait
    state instead."""
    transient, throttled, quota_wait = _retry_settings()
    for settings in (transient, throttled, quota_wait) if quota else (transient, throttled):
        task.add_retry(**settings)


class EnsureAndWait(sfn.StateMachineFragment):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        kind: str,
        spec_path: str,
        refs: Mapping[str, str],
        result_path: str,
        interval_seconds: int,
        timeout_seconds: int,
        initial: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        label = construct_id
        start = sfn.Pass(
            self,
            f"{label} start",
            result=sfn.Result.from_object({"attempt": 0, "waitedSeconds": 0, "waitSeconds": 0, **(initial or {})}),
            result_path=result_path,
        )
        # Paths written as ASL's own "key.$" fields (Amazon States Language, "Parameters" and
        # "Intrinsic functions"), exactly what sfn.JsonPath.* would render, without a jsii call each.
        payload = {
            "kind": kind,
            "spec.$": spec_path,
            "refs": {f"{name}.$": path for name, path in refs.items()},
            "attempt.$": f"States.MathAdd({result_path}.attempt, 1)",
            # The waits Step Functions really did, summed here rather than trusted to the function.
            "waitedSeconds.$": f"States.MathAdd({result_path}.waitedSeconds, {result_path}.waitSeconds)",
            "polling": {"intervalSeconds": interval_seconds, "timeoutSeconds": timeout_seconds},
        }
        ensure = tasks.LambdaInvoke(
            self,
            f"{label} ensure",
            lambda_function=function,
            payload=sfn.TaskInput.from_object(payload),
            payload_response_only=True,
            retry_on_service_exceptions=False,
            result_path=result_path,
        )
        # LimitExceededException comes only from Create*/Update*/TagResource (botocore's Personalize
        # model): the ensure handler turns it into another check of this loop, so no quota Retry here.
        add_step_retries(ensure, quota=False)
        wait = sfn.Wait(self, f"{label} wait", time=sfn.WaitTime.seconds_path(f"{result_path}.waitSeconds"))
        timed_out = sfn.Fail(
            self,
            f"{label} timed out",
            error_path=f"{result_path}.timeoutError",
            cause_path=f"{result_path}.timeoutCause",
        )
        self.done = sfn.Pass(self, f"{label} ready")
        ready = (
            sfn.Choice(self, f"{label} ready?")
            .when(sfn.Condition.string_equals(f"{result_path}.state", "READY"), self.done)
            .when(
                sfn.Condition.number_greater_than_equals(f"{result_path}.waitedSeconds", timeout_seconds),
                timed_out,
            )
            .otherwise(wait)
        )
        start.next(ensure).next(ready)
        wait.next(ensure)
        self._start = start

    @property
    def start_state(self) -> sfn.State:
        return self._start

    @property
    def end_states(self) -> list[sfn.INextable]:
        return [self.done]
