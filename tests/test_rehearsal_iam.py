"""The rehearsal enforces IAM and KMS as AWS does (issue 9): each Lambda under its role, each state
machine task under the state machine's role, Personalize callers and the Personalize service under
theirs, a customer managed key under its key policy. Each test here removes or breaks one thing and
asserts what a user would see."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KMS_ENVIRONMENT, KMS_KEY_ARN, PROJECT_ROOT, SynthesizedApp
from tests.rehearsal.harness import FAST_DURATIONS, Rehearsal
from tests.rehearsal.iam import RehearsalIam, decide, key_policy, statements_of

pytestmark = pytest.mark.rehearsal


def role_named(rehearsal: Rehearsal, fragment: str) -> str:
    """The physical name of the one deployed role whose logical id contains ``fragment``."""
    assert rehearsal.deployment is not None
    (name,) = [n for lid, n in rehearsal.deployment.of_type("AWS::IAM::Role").items() if fragment in lid]
    return name


def drop_action(rehearsal: Rehearsal, role: str, action: str) -> None:
    """Remove ``action`` from every inline policy of ``role`` in moto (as a narrower template would)."""
    iam = rehearsal.client("iam")
    for policy_name in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
        for statement in document["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            statement["Action"] = [a for a in actions if a != action] or ["none:None"]
        iam.put_role_policy(RoleName=role, PolicyName=policy_name, PolicyDocument=json.dumps(document))


@pytest.fixture
def rehearsal(assembly_dir: Path) -> Iterator[Rehearsal]:
    with Rehearsal(assembly_dir, "dev", durations=FAST_DURATIONS) as rehearsal:
        rehearsal.upload_sample_data()
        yield rehearsal


# --- the evaluator ---------------------------------------------------------------------------------


def test_wildcards_and_conditions_are_evaluated_not_string_matched() -> None:
    statements = [
        {"Effect": "Allow", "Action": "personalize:Describe*", "Resource": "arn:aws:personalize:*:*:*/ppoc-dev-*"},
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": "arn:aws:s3:::b",
            "Condition": {"StringLike": {"s3:prefix": ["imports/*"]}},
        },
        {
            "Effect": "Deny",
            "Action": "*",
            "Resource": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        },
    ]
    arn = "arn:aws:personalize:eu-west-1:1:campaign/ppoc-dev-x"
    tls = {"aws:SecureTransport": "true"}
    assert decide(statements, "personalize:DescribeCampaign", arn, tls) == "Allow"
    assert decide(statements, "PERSONALIZE:describecampaign", arn, tls) == "Allow"  # actions ignore case
    assert decide(statements, "personalize:DeleteCampaign", arn, tls) is None
    assert decide(statements, "s3:ListBucket", "arn:aws:s3:::b", {**tls, "s3:prefix": "imports/a"}) == "Allow"
    assert decide(statements, "s3:ListBucket", "arn:aws:s3:::b", {**tls, "s3:prefix": "reports/"}) is None
    assert decide(statements, "s3:ListBucket", "arn:aws:s3:::b", tls) is None  # no prefix: no match
    assert decide(statements, "s3:ListBucket", "arn:aws:s3:::b", {"aws:SecureTransport": "false"}) == "Deny"


def test_the_personalize_service_needs_role_bucket_policy_and_key_policy() -> None:
    """service_access without moto: the role's policy, the bucket policy for the service principal, and
    for KMS the key policy (CreateGrant: the key policy only, as the Personalize KMS page says)."""
    role = "arn:aws:iam::111122223333:role/personalize"
    key = "arn:aws:kms:eu-west-1:111122223333:key/k"
    checker = RehearsalIam("111122223333", "eu-west-1")
    role_policy = {
        "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/imports/*"},
            {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:ListGrants"], "Resource": key},
        ]
    }
    checker.policies.role_documents = lambda arn: (json.dumps(role_policy),)  # type: ignore[method-assign]
    bucket_policy = {
        "Effect": "Allow",
        "Principal": {"Service": "personalize.amazonaws.com"},
        "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::b/imports/*",
        "Condition": {"StringEquals": {"aws:SourceAccount": "111122223333"}},
    }
    with pytest.raises(PermissionError, match="bucket policy"):
        checker.service_access(role, "s3:GetObject", "arn:aws:s3:::b/imports/x.csv")
    checker.policies.bucket_policies["b"] = [bucket_policy]
    checker.service_access(role, "s3:GetObject", "arn:aws:s3:::b/imports/x.csv")
    with pytest.raises(PermissionError, match="s3:GetObject"):
        checker.service_access(role, "s3:GetObject", "arn:aws:s3:::b/reports/x.json")

    with pytest.raises(PermissionError):  # a key the rehearsal does not know
        checker.service_access(role, "kms:Decrypt", key)
    checker.policies.key_policies[key] = statements_of(key_policy("111122223333", "eu-west-1"))
    checker.service_access(role, "kms:Decrypt", key)
    checker.service_access(role, "kms:CreateGrant", key)  # key policy only
    with pytest.raises(PermissionError, match="kms:GenerateDataKey"):
        checker.service_access(role, "kms:GenerateDataKey", key)  # the role's policy lacks it
    checker.policies.key_policies[key] = [
        s for s in checker.policies.key_policies[key] if s["Sid"] != "AllowPersonalize"
    ]
    checker.policies.role_documents = lambda arn: (json.dumps({"Statement": []}),)  # type: ignore[method-assign]
    with pytest.raises(PermissionError, match="kms:CreateGrant"):
        checker.service_access(role, "kms:CreateGrant", key)


# --- each caller under its own role ----------------------------------------------------------------


def test_a_personalize_caller_gets_access_denied_for_an_action_its_role_lacks(rehearsal: Rehearsal) -> None:
    drop_action(rehearsal, role_named(rehearsal, "StepsEnsure"), "personalize:CreateSolution")
    run = rehearsal.run()
    assert run.status == "FAILED"
    assert "AccessDeniedException" in str(run.cause) or "AccessDenied" in str(run.error)
    assert "personalize:CreateSolution" in str(run.cause)
    assert rehearsal.double.call_count("CreateCampaign") == 0


def test_a_state_machine_task_runs_under_the_state_machines_role(rehearsal: Rehearsal) -> None:
    drop_action(rehearsal, role_named(rehearsal, "WorkflowStateMachineRole"), "sns:Publish")
    run = rehearsal.run()
    # Built, but the success notification is denied: the Catch turns that into a failed run.
    assert run.status == "FAILED"
    assert "SNS.AuthorizationErrorException" in [t.get("error") for t in run.failed_tasks()]
    assert rehearsal.sns_messages() == []


def test_the_personalize_service_role_needs_read_access_to_the_imports(rehearsal: Rehearsal) -> None:
    drop_action(rehearsal, role_named(rehearsal, "PersonalizeRole"), "s3:GetObject")
    run = rehearsal.run()
    assert run.status == "FAILED"
    assert "s3:GetObject" in str(run.cause)
    assert "import job" in str(run.cause)


# --- the Lambda runtime's environment, timeout, memory ----------------------------------------------


def test_each_invocation_sees_only_its_own_functions_environment(rehearsal: Rehearsal) -> None:
    """Issue 9 §5: one function's variables stayed set for the next (a teardown function deployed without
    PARAMETER_PATH still passed, with the report function's). Each invocation gets exactly its own."""
    from moto.awslambda.models import lambda_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    seen: dict[str, dict[str, str]] = {}
    probe_environments(rehearsal, seen)
    run = rehearsal.run()
    assert run.status == "SUCCEEDED", run.cause
    report = next(env for name, env in seen.items() if "Report" in name)
    ensure = next(env for name, env in seen.items() if "Ensure" in name)
    assert report["PARAMETER_PATH"] == "/ppoc-dev/poc"
    assert "PARAMETER_PATH" not in ensure, "one function's variables must not leak into the next"
    assert "PYTEST_CURRENT_TEST" not in ensure, "the test process's environment is not the function's"
    assert ensure["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert ensure["AWS_ACCESS_KEY_ID"] != report["AWS_ACCESS_KEY_ID"], "each function has its own role session"

    functions = lambda_backends[DEFAULT_ACCOUNT_ID][rehearsal.region]._lambdas._functions  # noqa: SLF001
    (name,) = [n for n in functions if "TeardownFunction" in n]
    for deployed in [functions[name]["latest"], *functions[name]["versions"]]:
        deployed.environment_vars.pop("PARAMETER_PATH", None)
    assert rehearsal.deployment is not None
    teardown = rehearsal.run(state_machine_arn=rehearsal.deployment.state_machine_named("ppoc-dev-poc-teardown"))
    assert teardown.status == "FAILED", "the report function's PARAMETER_PATH must not stand in for its own"
    assert "PARAMETER_PATH" in str(teardown.cause)


def probe_environments(rehearsal: Rehearsal, seen: dict[str, dict[str, str]]) -> None:
    """Record the environment each handler sees, from inside its invocation (boto3.client is called
    there; the seam's client factory reads the invocation's environment)."""
    import boto3

    seam_client = boto3.client

    def client(*args: Any, **kwargs: Any) -> Any:
        import os

        name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        if name:
            seen[name] = dict(os.environ)
        return seam_client(*args, **kwargs)

    boto3.client = client  # type: ignore[assignment]
    rehearsal._exit.callback(setattr, boto3, "client", seam_client)


def test_a_handler_past_its_timeout_fails_as_lambda_reports_it(rehearsal: Rehearsal) -> None:
    ticks = iter(range(0, 10**6, 90))  # every reading of the clock is 90 s later: past a 60 s timeout
    rehearsal.lambdas.wall_clock = lambda: float(next(ticks))
    run = rehearsal.run()
    assert run.status == "FAILED"
    (first,) = [t for t in run.failed_tasks()[:1]]
    assert first["error"] == "Sandbox.Timedout"
    assert "Task timed out after 60.00 seconds" in first["cause"]


def test_a_handler_over_its_memory_fails_as_lambda_reports_it(rehearsal: Rehearsal) -> None:
    readings = iter(range(0, 10**7, 300))  # every reading 300 MB higher: over the 256 MB functions
    rehearsal.lambdas.peak_memory_mb = lambda: float(next(readings))
    run = rehearsal.run()
    assert run.status == "FAILED"
    first = run.failed_tasks()[0]
    assert first["error"] == "Runtime.OutOfMemory"


# --- a customer managed key -------------------------------------------------------------------------


@pytest.fixture
def kms_rehearsal(kms_synthesized: SynthesizedApp) -> Iterator[Rehearsal]:
    with Rehearsal(kms_synthesized.assembly_dir, KMS_ENVIRONMENT, durations=FAST_DURATIONS) as rehearsal:
        rehearsal.upload_sample_data()
        yield rehearsal


def test_with_a_customer_key_the_workflow_runs_and_notifies_success_and_failure(kms_rehearsal: Rehearsal) -> None:
    """The key is used by the bucket, the topic and the dataset group: the Personalize role needs the KMS
    actions its guide lists, the state machine may publish to the encrypted topic. Then a Lambda's role
    loses a grant: the run fails under that role, and the failure notification carries the real cause."""
    run = kms_rehearsal.run()
    assert run.status == "SUCCEEDED", f"{run.error}: {run.cause}"
    assert [m["subject"] for m in kms_rehearsal.sns_messages()] == ["Personalize POC run succeeded"]
    (group,) = kms_rehearsal.double.resources("dataset_group")
    assert group.status == "ACTIVE"
    assert kms_rehearsal.iam.denials == []

    drop_action(kms_rehearsal, role_named(kms_rehearsal, "StepsReport"), "ssm:PutParameter")
    rerun = kms_rehearsal.run()
    assert rerun.status == "FAILED"
    assert "not authorized to perform: ssm:PutParameter" in str(rerun.cause)
    (failure,) = [m for m in kms_rehearsal.sns_messages() if "failed" in (m["subject"] or "")]
    assert "ssm:PutParameter" in failure["message"], "the notification says what really failed"


def test_without_the_key_grant_no_notification_goes_out(kms_rehearsal: Rehearsal) -> None:
    """The defect this guards against: the state machine's role without kms:GenerateDataKey* on the
    topic's key. SNS refuses the success notification (KMSAccessDenied), the failure path's notification
    too, and the execution ends with the notification's error instead of the run's."""
    drop_action(kms_rehearsal, role_named(kms_rehearsal, "WorkflowStateMachineRole"), "kms:GenerateDataKey*")
    run = kms_rehearsal.run()
    assert run.status == "FAILED"
    assert [t.get("error") for t in run.failed_tasks()][-2:] == ["SNS.KMSAccessDeniedException"] * 2
    assert kms_rehearsal.sns_messages() == []


def test_the_readme_states_the_key_policy_the_rehearsal_models() -> None:
    """The README's key policy statements are the ones the rehearsal evaluates (account and region as
    placeholders there)."""
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("<!-- key-policy -->") : readme.index("<!-- /key-policy -->")]
    document = json.loads(re.search(r"```json\n(.*?)```", section, re.DOTALL).group(1))  # type: ignore[union-attr]
    modelled = key_policy("111122223333", "eu-west-1")
    rendered = json.loads(json.dumps(document).replace("<account-id>", "111122223333").replace("<region>", "eu-west-1"))
    assert statements_of(rendered) == statements_of(modelled)
    assert KMS_KEY_ARN.startswith("arn:aws:kms:")
