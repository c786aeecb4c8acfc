"""A deployable unit per environment, so a pipeline can deploy the same app to each."""

from __future__ import annotations

from aws_cdk import Environment, Stage

from constructs import Construct
from personalize_poc.poc_definition import load_poc_definition
from personalize_poc.settings import EnvironmentSettings
from stacks.poc_stack import PersonalizePocStack


class PersonalizePocStage(Stage):
    def __init__(self, scope: Construct, construct_id: str, *, settings: EnvironmentSettings) -> None:
        env = (
            Environment(account=settings.account, region=settings.region)
            if (settings.account or settings.region)
            else None
        )
        super().__init__(scope, construct_id, env=env)
        poc = load_poc_definition(settings.poc_config_path, settings.name_prefix)
        self.poc = PersonalizePocStack(self, "PersonalizePoc", settings=settings, poc=poc)
