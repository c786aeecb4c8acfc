"""The offline rehearsal: the synthesized stack deployed into moto, its state machine executed by
moto's interpreter, its Lambda code run in-process, Personalize played by the stateful double - all
on simulated time.

    with Rehearsal(assembly_dir) as rehearsal:
        rehearsal.upload_sample_data()
        run = rehearsal.run()                  # the POC workflow, start to end
        assert run.status == "SUCCEEDED"

Pieces (each in its own module): ``cfn``/``deploy`` (template -> moto resources), ``lambda_seam``
(moto's Lambda runs the deployed handler), ``simclock`` (Wait states and retries advance simulated
time, per branch), ``tests.support.personalize_double`` (Personalize).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from tests.rehearsal.cfn import StackArtifact, load_stack
from tests.rehearsal.deploy import Deployment, asset_root, deploy_stack
from tests.rehearsal.iam import RehearsalIam, key_policy, statements_of
from tests.rehearsal.lambda_seam import InProcessLambdas, Invocation
from tests.rehearsal.sfn_quotas import StepFunctionsQuotas
from tests.rehearsal.simclock import SIM_EPOCH, SimulatedTime
from tests.support.personalize_double import PersonalizeDouble

REGION = "eu-west-1"
WORKFLOW_SUFFIX = "-poc-workflow"
CONFIG_STATE = "POC config"
#: Simulated durations for tests: about two polls per resource at the default polling intervals, so a
#: rehearsal of the sample POC takes seconds of wall time (make rehearse uses the double's defaults).
FAST_DURATIONS = {
    "dataset_group": 20,
    "dataset": 20,
    "dataset_import_job": 120,
    "solution": 20,
    "solution_version": 240,
    "campaign": 120,
    "filter": 30,
    "event_tracker": 30,
    "batch_inference_job": 240,
}
#: Wall-clock limit for one execution; a rehearsal of the sample POC takes a few seconds.
EXECUTION_TIMEOUT_SECONDS = 120.0


@dataclass
class Run:
    """One finished execution: what the API says about it, plus simulated start and end."""

    arn: str
    status: str
    description: dict[str, Any]
    history: list[dict[str, Any]]
    sim_start: float
    sim_end: float
    wall_seconds: float
    invocations: list[Invocation] = field(default_factory=list)

    @property
    def makespan(self) -> float:
        return self.sim_end - self.sim_start

    @property
    def history_events(self) -> int:
        """Events in the execution's history: its peak count (Step Functions quota: 25,000)."""
        return len(self.history)

    @property
    def error(self) -> str | None:
        return self.description.get("error")

    @property
    def cause(self) -> str | None:
        return self.description.get("cause")

    @property
    def output(self) -> Any:
        return json.loads(self.description["output"]) if self.description.get("output") else None

    def events(self, *types: str) -> list[dict[str, Any]]:
        return [e for e in self.history if not types or e["type"] in types]

    def failed_tasks(self) -> list[dict[str, Any]]:
        return [
            e.get("lambdaFunctionFailedEventDetails") or e.get("taskFailedEventDetails") or {}
            for e in self.events("LambdaFunctionFailed", "TaskFailed")
        ]


@functools.cache
def sample_data_dir() -> Path:
    """The sample POC data (``personalize-poc data sample``), generated once per process."""
    from personalize_poc.data.sample import generate

    out = Path(tempfile.mkdtemp(prefix="rehearsal-sample-"))
    generate(out)
    return out


class Rehearsal:
    """See the module docstring. Arguments:

    assembly_dir: a synthesized cloud assembly (cdk.out); stage: which environment's stack.
    durations/quotas: the double's simulated durations and quotas (defaults: the double's).
    task_seconds: simulated latency of each Lambda task.
    enforce_iam: every caller under its synthesized role (tests/rehearsal/iam.py); on by default, as in
        AWS. Off only to look at a workflow's logic apart from its permissions.
    """

    def __init__(
        self,
        assembly_dir: Path,
        stage: str = "dev",
        *,
        durations: Mapping[str, float] | None = None,
        quotas: Mapping[str, int] | None = None,
        task_seconds: float = 0.0,
        sequential: bool = False,
        region: str = REGION,
        enforce_iam: bool = True,
    ) -> None:
        self.stack: StackArtifact = load_stack(Path(assembly_dir), stage)
        self.region = region
        self.clock = SimulatedTime(task_seconds=task_seconds, sequential=sequential)
        self.double = PersonalizeDouble(
            clock=self.clock,
            durations=durations,
            quotas=quotas,
            account_id=DEFAULT_ACCOUNT_ID,
            start_time=SIM_EPOCH,
        )
        #: Step Functions quotas (history size, payload size), enforced as the service does
        self.sfn_quotas = StepFunctionsQuotas()
        self.enforce_iam = enforce_iam
        self.iam = RehearsalIam(DEFAULT_ACCOUNT_ID, region)
        self.lambdas = InProcessLambdas(
            sim_clock=self.clock,
            execution_of_caller=self._caller_execution,
            before_invoke=self._before_invoke,
            after_invoke=self._after_invoke,
            credentials_for=self.iam.credentials_for if enforce_iam else None,
        )
        self.before_invoke: list[Callable[[Invocation], None]] = []
        self.after_invoke: list[Callable[[Invocation], None]] = []
        self.deployment: Deployment | None = None
        self._exit = contextlib.ExitStack()
        self.runs: list[Run] = []

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> Rehearsal:
        try:
            self._exit.enter_context(_fake_credentials(self.region))
            self._exit.enter_context(
                mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": True}})
            )
            self._exit.enter_context(self.clock.installed())
            self._exit.enter_context(self.sfn_quotas.installed())
            self._exit.enter_context(self.double.installed())
            self._exit.enter_context(self.lambdas.installed())
            self.deployment = deploy_stack(self.stack, region=self.region, account=DEFAULT_ACCOUNT_ID)
            self._enforce_iam(self.deployment)
        except BaseException:
            self._exit.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self._exit.close()

    def _enforce_iam(self, deployment: Deployment) -> None:
        """Roles for every caller (tests/rehearsal/iam.py): handlers, state machine tasks, Personalize."""
        policies = self.iam.policies
        policies.bucket_policies.update(deployment.bucket_policies)
        policies.bucket_keys.update(deployment.bucket_keys)
        for key_arn in deployment.customer_keys:
            policies.key_policies[key_arn] = statements_of(key_policy(DEFAULT_ACCOUNT_ID, self.region))
        # The service reads the object itself; the bytes come from moto's store, outside any role.
        self.double.read_object = _read_from_moto
        if not self.enforce_iam:
            return
        self.double.service_access = self.iam.service_access
        self.double.caller_access = self.iam.caller_access
        self._exit.enter_context(self.iam.enforced_in_moto())
        self._exit.enter_context(self.iam.state_machine_tasks())

    # ------------------------------------------------------------------ clients and lookups
    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)

    @property
    def workflow_arn(self) -> str:
        assert self.deployment is not None
        found = [arn for arn in self.deployment.state_machines.values() if arn.endswith(WORKFLOW_SUFFIX)]
        if not found:
            raise RuntimeError(
                f"the POC workflow was not deployed: {self.deployment.rejected or 'not in the template'}"
            )
        return found[0]

    def definition(self, state_machine_arn: str | None = None) -> dict[str, Any]:
        assert self.deployment is not None
        arn = state_machine_arn or self.workflow_arn
        logical_id = next(lid for lid, a in self.deployment.state_machines.items() if a == arn)
        return self.deployment.definitions[logical_id]

    @property
    def plan(self) -> dict[str, Any]:
        """The POC plan embedded in the workflow definition (bucket, datasets, solutions...)."""
        return dict(self.definition()["States"][CONFIG_STATE]["Result"])

    @property
    def bucket(self) -> str:
        return str(self.plan["bucket"])

    @property
    def topic_arn(self) -> str:
        assert self.deployment is not None
        (arn,) = self.deployment.of_type("AWS::SNS::Topic").values()
        return arn

    def asset_dir(self) -> Path:
        assert self.deployment is not None
        return asset_root(self.stack, next(iter(self.deployment.functions)))

    # ------------------------------------------------------------------ data
    def upload_sample_data(self, data_dir: Path | None = None) -> dict[str, str]:
        """Put the sample files where the plan reads them: each dataset's ``s3Uri`` (``<type>.csv``
        from the sample) and each batch job's ``inputUri`` (the sample's ``users.jsonl``)."""
        source = data_dir or sample_data_dir()
        batch_input = source / "users.jsonl"
        s3 = self.client("s3")
        uploaded = {}
        targets = [(d["s3Uri"], source / f"{d['type']}.csv") for d in self.plan["datasets"]]
        targets += [(b["inputUri"], batch_input) for s in self.plan["solutions"] for b in s["batchJobs"]]
        for uri, path in targets:
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
            uploaded[uri] = str(path)
        return uploaded

    # ------------------------------------------------------------------ executions
    def start(
        self,
        name: str | None = None,
        execution_input: Mapping[str, Any] | None = None,
        state_machine_arn: str | None = None,
    ) -> str:
        params: dict[str, Any] = {
            "stateMachineArn": state_machine_arn or self.workflow_arn,
            "input": json.dumps(dict(execution_input or {})),
            # Named as Step Functions names them when no name is given (moto would use "None").
            "name": name or str(uuid.uuid4()),
        }
        return str(self.client("stepfunctions").start_execution(**params)["executionArn"])

    def wait(self, execution_arn: str, timeout: float = EXECUTION_TIMEOUT_SECONDS) -> dict[str, Any]:
        """The execution's DescribeExecution once it has ended. While it runs, its status is read from
        moto's backend in this process: a DescribeExecution through botocore every 5 ms took the GIL
        from the interpreter's thread for about half of a long scenario's wall time."""
        deadline = time.monotonic() + timeout
        while self._backend_status(execution_arn) == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{execution_arn} still RUNNING after {timeout:.0f} s of wall time")
            time.sleep(0.005)
        return self.client("stepfunctions").describe_execution(executionArn=execution_arn)  # type: ignore[no-any-return]

    def _backend_status(self, execution_arn: str) -> str:
        from moto.stepfunctions.parser.models import stepfunctions_parser_backends

        region = execution_arn.split(":")[3]
        return str(stepfunctions_parser_backends[DEFAULT_ACCOUNT_ID][region].describe_execution(execution_arn).status)

    def finish(
        self,
        execution_arn: str,
        started_wall: float,
        sim_start: float,
        timeout: float = EXECUTION_TIMEOUT_SECONDS,
    ) -> Run:
        description = self.wait(execution_arn, timeout)
        history = self.history(execution_arn)
        sim_end = max([sim_start, *(_sim_seconds(e["timestamp"]) for e in history)])
        run = Run(
            arn=execution_arn,
            status=description["status"],
            description=description,
            history=history,
            sim_start=sim_start,
            sim_end=sim_end,
            wall_seconds=time.monotonic() - started_wall,
            invocations=[i for i in self.lambdas.invocations if i.execution_arn == execution_arn],
        )
        self.runs.append(run)
        return run

    def run(
        self,
        name: str | None = None,
        execution_input: Mapping[str, Any] | None = None,
        timeout: float = EXECUTION_TIMEOUT_SECONDS,
        state_machine_arn: str | None = None,
    ) -> Run:
        """Start the POC workflow (or a test copy of it) and wait until it ends."""
        started, sim_start = time.monotonic(), self.clock.world()
        arn = self.start(name, execution_input, state_machine_arn)
        return self.finish(arn, started, sim_start, timeout)

    def deploy_variant(self, suffix: str, transform: Callable[[dict[str, Any]], dict[str, Any]]) -> str:
        """A test copy of the POC workflow with ``transform`` applied to its resolved definition
        (the product's definition is never changed); returns the copy's ARN."""
        sfn = self.client("stepfunctions")
        original = sfn.describe_state_machine(stateMachineArn=self.workflow_arn)
        definition = transform(json.loads(original["definition"]))
        arn = str(
            sfn.create_state_machine(
                name=f"{original['name']}-{suffix}",
                definition=json.dumps(definition),
                roleArn=original["roleArn"],
                type=original["type"],
            )["stateMachineArn"]
        )
        assert self.deployment is not None
        self.deployment.state_machines[f"variant-{suffix}"] = arn
        self.deployment.definitions[f"variant-{suffix}"] = definition
        return arn

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=execution_arn):
            events.extend(page["events"])
        return events

    # ------------------------------------------------------------------ what the run left behind
    def sns_messages(self) -> list[dict[str, Any]]:
        """Every message published to the POC's topic (moto keeps them on the topic)."""
        from moto.sns.models import sns_backends

        topic = sns_backends[DEFAULT_ACCOUNT_ID][self.region].topics[self.topic_arn]
        return [{"message": m[1], "subject": m[2]} for m in topic.sent_notifications]

    def parameters(self, path: str) -> dict[str, str]:
        ssm = self.client("ssm")
        found: dict[str, str] = {}
        for page in ssm.get_paginator("get_parameters_by_path").paginate(Path=path, Recursive=True):
            found.update({p["Name"]: p["Value"] for p in page["Parameters"]})
        return found

    def read_json(self, key: str) -> Any:
        body = self.client("s3").get_object(Bucket=self.bucket, Key=key)["Body"].read()
        return json.loads(body)

    def keys(self, prefix: str) -> list[str]:
        s3 = self.client("s3")
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(o["Key"] for o in page.get("Contents", []))
        return keys

    def create_calls(self) -> dict[str, int]:
        """Create* calls the double answered without error, per operation."""
        counts: dict[str, int] = {}
        for operation, _ in self.double.calls:
            if operation.startswith("Create"):
                counts[operation] = counts.get(operation, 0) + 1
        return counts

    # ------------------------------------------------------------------ hooks
    def _caller_execution(self) -> str | None:
        env = self.clock.current_env()
        if env is None:
            return None
        try:
            return str(env.states.context_object.context_object_data["Execution"]["Id"])
        except (KeyError, AttributeError):
            return None

    def _before_invoke(self, invocation: Invocation) -> None:
        for hook in list(self.before_invoke):
            hook(invocation)

    def _after_invoke(self, invocation: Invocation) -> None:
        for hook in list(self.after_invoke):
            hook(invocation)


def _read_from_moto(uri: str) -> bytes:
    from moto.s3.models import s3_backends

    bucket, _, key = uri.removeprefix("s3://").partition("/")
    found = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_object(bucket, key)
    if found is None:
        raise FileNotFoundError(f"NoSuchKey: {uri}")
    return bytes(found.value)


def _sim_seconds(timestamp: Any) -> float:
    return float((timestamp - SIM_EPOCH).total_seconds())


@contextlib.contextmanager
def _fake_credentials(region: str) -> Iterator[None]:
    """moto needs credentials to exist; never real ones."""
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def hold(
    event: threading.Event,
    predicate: Callable[[Invocation], bool],
    timeout: float = EXECUTION_TIMEOUT_SECONDS,
) -> Callable[[Invocation], None]:
    """A before-invoke hook that blocks invocations matching ``predicate`` until ``event`` is set."""

    def hook(invocation: Invocation) -> None:
        if predicate(invocation) and not event.wait(timeout):
            raise TimeoutError("held invocation was never released")

    return hook
