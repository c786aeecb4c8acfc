"""The optional delivery pipeline (settings `pipeline:`): a self-mutating CDK pipeline (aws_cdk.pipelines)
that builds from a CodeConnections repository and branch, runs the README's own commands (`make test`,
`make synth`), then deploys each listed environment's Stage in order: the offline rehearsal of that
environment's own POC (`make rehearse ENV=x`) first, and a manual approval first where the environment
says `approval: true`. An environment naming an account is deployed cross-account (the pipeline's
artifacts are encrypted with a KMS key the target accounts may use: `cross_account_keys`)."""

from __future__ import annotations

from aws_cdk import Environment, Stack, pipelines

from constructs import Construct
from constructs.pipeline_acknowledgments import acknowledge_pipeline
from personalize_poc.settings import EnvironmentSettings, PipelineSettings
from stacks.poc_stage import PersonalizePocStage

# What the synth and rehearsal steps run: the README's own commands; `make setup` comes with them.
SYNTH_COMMANDS = ["make test", "make synth"]


def rehearse_command(environment: str) -> str:
    return f"make rehearse ENV={environment}"


class PocPipelineStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: PipelineSettings,
        environments: dict[str, EnvironmentSettings],
    ) -> None:
        env = Environment(account=settings.account, region=settings.region) if settings.account else None
        super().__init__(
            scope,
            construct_id,
            env=env,
            description="Delivery pipeline of the Amazon Personalize proof of concept",
        )
        source = pipelines.CodePipelineSource.connection(
            settings.repository, settings.branch, connection_arn=settings.connection_arn
        )
        deployed = [environments[name] for name in settings.environments]
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            # KMS-encrypted artifacts that the target accounts' roles may read, when any target names one.
            cross_account_keys=any(environment.account for environment in deployed),
            self_mutation=True,
            enable_key_rotation=True,  # the artifacts key, when cross-account (cdk-nag KMS5)
            synth=pipelines.ShellStep(
                "Synth",
                input=source,
                commands=SYNTH_COMMANDS,
                primary_output_directory="cdk.out",
            ),
        )
        for environment in deployed:
            stage = PersonalizePocStage(self, environment.name, settings=environment)
            rehearse = pipelines.ShellStep(
                f"Rehearse {environment.name}", input=source, commands=[rehearse_command(environment.name)]
            )
            pre: list[pipelines.Step] = [rehearse]
            if environment.approval:
                # The approver sees a rehearsal that passed: approval waits for it.
                approve = pipelines.ManualApprovalStep(f"Approve {environment.name}")
                approve.add_step_dependency(rehearse)
                pre.append(approve)
            self.pipeline.add_stage(stage, pre=pre)
        self.pipeline.build_pipeline()
        acknowledge_pipeline(self.pipeline)
