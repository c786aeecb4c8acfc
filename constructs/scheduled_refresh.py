"""Scheduled refresh: an EventBridge Scheduler schedule that starts the POC workflow (environment setting
`refresh.schedule`, in `refresh.time_zone`). Nothing is deployed without a schedule.

The workflow decides what a run does: on unchanged data every ensure step finds its resource and
creates nothing (import jobs are named after the data's ETag); on new data it imports and trains. A run
started while one is going stops at once (the workflow's guard, RunAlreadyInProgress).
"""

from __future__ import annotations

from aws_cdk import TimeZone
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_scheduler_targets as targets
from aws_cdk import aws_stepfunctions as sfn

from constructs import Construct
from personalize_poc.schedules import REFRESH, schedule_name
from personalize_poc.settings import RefreshSettings


class ScheduledRefresh(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: RefreshSettings,
        workflow: sfn.IStateMachine,
        name_prefix: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.schedule: scheduler.Schedule | None = None
        if settings.schedule is None:
            return
        self.schedule = scheduler.Schedule(
            self,
            "Schedule",
            # Named, so `personalize-poc status` reads it back (GetSchedule) for its next run.
            schedule_name=schedule_name(name_prefix, REFRESH),
            schedule=scheduler.ScheduleExpression.expression(settings.schedule, TimeZone.of(settings.time_zone)),
            # The same input as `personalize-poc run start` (an empty object); the target's role may start
            # this state machine only.
            target=targets.StepFunctionsStartExecution(workflow, input=scheduler.ScheduleTargetInput.from_object({})),
            description="Scheduled refresh of the Personalize POC (new data is imported and trained on)",
        )
