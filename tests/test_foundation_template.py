"""The foundation's resources and their security properties, asserted on the synthesized templates.

Each test looks at the resources it is about (found through the stack's constructs), never at the
whole stack's resource count: the workflow adds resources to the same stack.
"""

from __future__ import annotations

import ast
import base64
import itertools
import json
import re
import shutil
import subprocess
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from personalize_poc.plan_diff import plan_from_template
from tests.conftest import (
    KMS_KEY_ARN,
    SynthesizedApp,
    SynthesizedEnvironment,
    as_list,
    logical_id,
    policy_statements,
    render,
)

PERSONALIZE = "personalize.amazonaws.com"
SAME_ACCOUNT = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def resource(env: SynthesizedEnvironment, construct: Any, resource_type: str) -> dict[str, Any]:
    """The template entry of a construct, checked to be of the expected type."""
    entry = env.resources[logical_id(construct)]
    assert entry["Type"] == resource_type
    return entry


def assert_resource_like(env: SynthesizedEnvironment, construct: Any, resource_type: str, pattern: dict) -> None:
    """`Match.object_like` on one resource's properties, failing with CDK's explanation."""
    lid = logical_id(construct)
    found = env.template.find_resources(resource_type, {"Properties": Match.object_like(pattern)})
    if lid not in found:
        # has_resource_properties explains which key differs; it only runs when we already failed.
        Template.from_json({"Resources": {lid: env.resources[lid]}}).has_resource_properties(resource_type, pattern)
        pytest.fail(f"{lid} does not match {pattern}")


def bucket_policy(env: SynthesizedEnvironment, bucket: Any) -> list[dict[str, Any]]:
    bucket_id = logical_id(bucket)
    policies = [
        body["Properties"]["PolicyDocument"]["Statement"]
        for body in env.resources.values()
        if body["Type"] == "AWS::S3::BucketPolicy" and body["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert len(policies) == 1, f"expected one bucket policy for {bucket_id}, found {len(policies)}"
    return policies[0]


def lifecycle_script(env: SynthesizedEnvironment) -> str:
    """The notebook's on-start script, decoded (literal base64) or rendered (Fn::Base64 of a Join)."""
    lifecycle = resource(env, env.stack.notebook.lifecycle, "AWS::SageMaker::NotebookInstanceLifecycleConfig")
    (hook,) = lifecycle["Properties"]["OnStart"]
    content = hook["Content"]
    if isinstance(content, str):
        return base64.b64decode(content).decode()
    assert set(content) == {"Fn::Base64"}, f"unexpected lifecycle content {content}"
    return str(render(content["Fn::Base64"]))


def heredoc(script: str, target: str, marker: str) -> str:
    match = re.search(rf"cat > {re.escape(target)} <<'{marker}'\n(.*?)\n{marker}\n", script, re.S)
    assert match, f"the on-start script does not write {target}"
    return match.group(1)


# --- Data bucket ----------------------------------------------------------------------------------


def test_data_bucket_blocks_public_access_and_keeps_versions(poc_env: SynthesizedEnvironment) -> None:
    assert_resource_like(
        poc_env,
        poc_env.stack.data.bucket,
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "VersioningConfiguration": {"Status": "Enabled"},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )


def test_access_log_bucket_blocks_public_access(poc_env: SynthesizedEnvironment) -> None:
    assert_resource_like(
        poc_env,
        poc_env.stack.data.access_logs,
        "AWS::S3::Bucket",
        {
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            # Log delivery cannot write to SSE-KMS buckets; SSE-S3 is the strongest option here.
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
            # Access logs are evidence: an overwritten or deleted log object keeps its earlier version.
            "VersioningConfiguration": {"Status": "Enabled"},
        },
    )


def test_data_bucket_encryption_follows_the_settings(any_env: SynthesizedEnvironment) -> None:
    """SSE-S3 without a customer key; SSE-KMS with the configured key (and S3 Bucket Keys) with one."""
    key_arn = any_env.settings.kms_key_arn
    by_default = (
        {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        if key_arn
        else {"SSEAlgorithm": "AES256", "KMSMasterKeyID": Match.absent()}
    )
    rule: dict[str, Any] = {"ServerSideEncryptionByDefault": by_default}
    if key_arn:
        rule["BucketKeyEnabled"] = True  # fewer KMS requests, lower cost
    assert_resource_like(
        any_env,
        any_env.stack.data.bucket,
        "AWS::S3::Bucket",
        {"BucketEncryption": {"ServerSideEncryptionConfiguration": [Match.object_like(rule)]}},
    )


def test_kms_variant_really_has_a_customer_key(kms_env: SynthesizedEnvironment) -> None:
    """Guards the fixture: the KMS branch of the tests above must see a key."""
    assert kms_env.settings.kms_key_arn == KMS_KEY_ARN


@pytest.mark.parametrize("which", ["bucket", "access_logs"])
def test_buckets_deny_requests_without_tls(poc_env: SynthesizedEnvironment, which: str) -> None:
    bucket = getattr(poc_env.stack.data, which)
    bucket_arn = f"<{logical_id(bucket)}.Arn>"
    tls_only = [
        statement
        for statement in bucket_policy(poc_env, bucket)
        if statement["Effect"] == "Deny" and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(tls_only) == 1, "expected one Deny aws:SecureTransport=false statement"
    (statement,) = tls_only
    assert statement["Action"] == "s3:*"
    assert statement["Principal"] == {"AWS": "*"}
    assert sorted(render(as_list(statement["Resource"]))) == sorted([bucket_arn, f"{bucket_arn}/*"])


def test_data_bucket_writes_server_access_logs_to_the_log_bucket(poc_env: SynthesizedEnvironment) -> None:
    data = poc_env.stack.data
    assert_resource_like(
        poc_env,
        data.bucket,
        "AWS::S3::Bucket",
        {
            "LoggingConfiguration": {
                "DestinationBucketName": {"Ref": logical_id(data.access_logs)},
                "LogFilePrefix": Match.string_like_regexp(r".+/$"),
            }
        },
    )
    # The log bucket lets the logging service deliver, and only for this data bucket and account.
    delivery = [
        statement
        for statement in bucket_policy(poc_env, data.access_logs)
        if statement["Effect"] == "Allow" and statement.get("Principal") == {"Service": "logging.s3.amazonaws.com"}
    ]
    assert len(delivery) == 1
    assert delivery[0]["Action"] == "s3:PutObject"
    assert render(delivery[0]["Condition"]) == {
        "ArnLike": {"aws:SourceArn": f"<{logical_id(data.bucket)}.Arn>"},
        "StringEquals": {"aws:SourceAccount": "<AWS::AccountId>"},
    }


def test_data_bucket_expires_noncurrent_versions(poc_env: SynthesizedEnvironment) -> None:
    rules = resource(poc_env, poc_env.stack.data.bucket, "AWS::S3::Bucket")["Properties"]["LifecycleConfiguration"][
        "Rules"
    ]
    expiring = [r for r in rules if r.get("Status") == "Enabled" and "NoncurrentVersionExpiration" in r]
    assert expiring, f"no enabled rule expires noncurrent versions: {rules}"
    assert 1 <= expiring[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] <= 365
    assert any("AbortIncompleteMultipartUpload" in r for r in rules)


def _removal(env: SynthesizedEnvironment, construct: Any) -> tuple[str, str]:
    entry = env.resources[logical_id(construct)]
    return entry.get("DeletionPolicy", "Delete"), entry.get("UpdateReplacePolicy", "Delete")


def _auto_delete_targets(env: SynthesizedEnvironment) -> set[str]:
    return {
        body["Properties"]["BucketName"]["Ref"]
        for body in env.resources.values()
        if body["Type"] == "Custom::S3AutoDeleteObjects"
    }


def test_dev_buckets_are_deleted_with_the_stack(synthesized: SynthesizedApp) -> None:
    dev = synthesized.environments["dev"]
    assert dev.settings.data_bucket_removal == "destroy"
    data = dev.stack.data
    for bucket in (data.bucket, data.access_logs):
        assert _removal(dev, bucket) == ("Delete", "Delete")
    # A versioned bucket with objects cannot be deleted; the auto-delete custom resource empties it.
    assert _auto_delete_targets(dev) >= {logical_id(data.bucket), logical_id(data.access_logs)}


def test_prod_buckets_are_retained(synthesized: SynthesizedApp) -> None:
    prod = synthesized.environments["prod"]
    assert prod.settings.data_bucket_removal == "retain"
    data = prod.stack.data
    for bucket in (data.bucket, data.access_logs):
        assert _removal(prod, bucket) == ("Retain", "Retain")
    assert not _auto_delete_targets(prod) & {logical_id(data.bucket), logical_id(data.access_logs)}


# --- What Personalize may do --------------------------------------------------------------------


def test_personalize_object_access_is_confined_to_its_prefixes(any_env: SynthesizedEnvironment) -> None:
    """Objects per prefix; listing on the whole bucket (the service lists for imports and for batch output
    with prefixes it does not document, so a prefix condition could refuse it)."""
    bucket_arn = f"<{logical_id(any_env.stack.data.bucket)}.Arn>"
    granted = sorted(
        (
            (
                statement["Action"],
                tuple(sorted(render(as_list(statement["Resource"])))),
                json.dumps(render(statement["Condition"]), sort_keys=True),
            )
            for statement in bucket_policy(any_env, any_env.stack.data.bucket)
            if statement.get("Principal") == {"Service": PERSONALIZE}
        ),
    )
    same_account = {"StringEquals": {"aws:SourceAccount": "<AWS::AccountId>"}}
    expected = sorted(
        [
            ("s3:ListBucket", (bucket_arn,), json.dumps(same_account, sort_keys=True)),
            (
                "s3:GetObject",
                tuple(sorted([f"{bucket_arn}/imports/*", f"{bucket_arn}/batch-input/*", f"{bucket_arn}/deletions/*"])),
                json.dumps(same_account, sort_keys=True),
            ),
            (
                "s3:PutObject",
                tuple(sorted([f"{bucket_arn}/batch-output/*", f"{bucket_arn}/exports/*"])),
                json.dumps(same_account, sort_keys=True),
            ),
        ]
    )
    assert granted == expected
    for statement in bucket_policy(any_env, any_env.stack.data.bucket):
        if statement.get("Principal") == {"Service": PERSONALIZE}:
            assert statement["Effect"] == "Allow"


def test_data_bucket_policy_allows_nobody_else(poc_env: SynthesizedEnvironment) -> None:
    """Besides Personalize, only CDK's auto-delete handler (dev) is granted anything on the bucket."""
    allowed = {
        json.dumps(render(statement["Principal"]), sort_keys=True)
        for statement in bucket_policy(poc_env, poc_env.stack.data.bucket)
        if statement["Effect"] == "Allow"
    }
    auto_delete_role = {
        json.dumps({"AWS": f"<{lid}.Arn>"})
        for lid, body in poc_env.resources.items()
        if body["Type"] == "AWS::IAM::Role" and lid.startswith("CustomS3AutoDeleteObjects")
    }
    assert allowed - auto_delete_role == {json.dumps({"Service": PERSONALIZE})}


def _is_anyone(principal: Any) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return any("*" in as_list(value) for value in principal.values())
    return False


def _all_templates(synthesized: SynthesizedApp, kms_synthesized: SynthesizedApp) -> list[dict[str, Any]]:
    files = synthesized.template_files() + kms_synthesized.template_files()
    assert len(files) >= 3
    return [json.loads(path.read_text()) for path in files]


def test_no_policy_anywhere_allows_everyone(synthesized: SynthesizedApp, kms_synthesized: SynthesizedApp) -> None:
    """The design's promise: never an Allow to `"Principal": "*"` (a seed guide ships one)."""
    seen_any_principal = 0
    offenders = []
    for template in _all_templates(synthesized, kms_synthesized):
        for resource_id, statement in policy_statements(template):
            for key in ("Principal", "NotPrincipal"):
                if key in statement and _is_anyone(statement[key]):
                    seen_any_principal += 1
                    if statement["Effect"] == "Allow" or key == "NotPrincipal":
                        offenders.append((resource_id, statement))
        for resource_id, body in template["Resources"].items():
            if body["Type"] == "AWS::Lambda::Permission" and body["Properties"].get("Principal") == "*":
                offenders.append((resource_id, body["Properties"]))
    assert not offenders, f"statements that allow everyone: {offenders}"
    # The walk does see wildcard principals: the TLS-only Deny statements use one.
    assert seen_any_principal > 0


def test_personalize_role_is_assumable_only_by_personalize_for_this_account(
    any_env: SynthesizedEnvironment,
) -> None:
    role = resource(any_env, any_env.stack.personalize_role.role, "AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Condition": SAME_ACCOUNT,
            "Effect": "Allow",
            "Principal": {"Service": PERSONALIZE},
        }
    ]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_personalize_role_reads_and_writes_only_its_prefixes(poc_env: SynthesizedEnvironment) -> None:
    policy = resource(poc_env, poc_env.stack.personalize_role.policy, "AWS::IAM::Policy")
    bucket_arn = f"<{logical_id(poc_env.stack.data.bucket)}.Arn>"
    granted = {
        statement["Action"]: sorted(render(as_list(statement["Resource"])))
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    }
    assert granted == {
        "s3:ListBucket": [bucket_arn],
        # deletions/: data deletion job inputs; exports/: dataset export jobs (personalize-poc data ...)
        "s3:GetObject": sorted([f"{bucket_arn}/imports/*", f"{bucket_arn}/batch-input/*", f"{bucket_arn}/deletions/*"]),
        "s3:PutObject": sorted([f"{bucket_arn}/batch-output/*", f"{bucket_arn}/exports/*"]),
    }


# --- Customer managed key ----------------------------------------------------------------------


def _actions_on(policy: dict[str, Any], resource_arn: str) -> set[str]:
    return {
        action
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Allow" and resource_arn in render(as_list(statement["Resource"]))
        for action in as_list(statement["Action"])
    }


def test_roles_may_use_the_customer_key(kms_env: SynthesizedEnvironment) -> None:
    personalize = resource(kms_env, kms_env.stack.personalize_role.policy, "AWS::IAM::Policy")
    assert {"kms:Decrypt", "kms:GenerateDataKey"} <= _actions_on(personalize, KMS_KEY_ARN)
    notebook = resource(kms_env, kms_env.stack.notebook.poc_policy, "AWS::IAM::Policy")
    # The notebooks only read SSE-KMS objects; they write nothing.
    assert _actions_on(notebook, KMS_KEY_ARN) == {"kms:Decrypt", "kms:DescribeKey"}


def test_the_personalize_role_may_do_what_the_kms_page_asks_of_it(kms_env: SynthesizedEnvironment) -> None:
    """ "Giving Amazon Personalize permission to use your AWS KMS key": the role's policy must allow
    Decrypt, GenerateDataKey, DescribeKey and ListGrants (CreateGrant only in the key policy)."""
    personalize = resource(kms_env, kms_env.stack.personalize_role.policy, "AWS::IAM::Policy")
    assert _actions_on(personalize, KMS_KEY_ARN) == {
        "kms:Decrypt",
        "kms:GenerateDataKey",
        "kms:DescribeKey",
        "kms:ListGrants",
    }


def test_state_machines_may_publish_to_the_encrypted_topic(kms_env: SynthesizedEnvironment) -> None:
    """Success and failure notifications are SNS publishes by the state machines' roles: with a customer
    key on the topic they need kms:GenerateDataKey* and kms:Decrypt on it."""
    for state_machine in (kms_env.stack.workflow.state_machine, kms_env.stack.teardown.state_machine):
        policy = resource(kms_env, state_machine.role.node.find_child("DefaultPolicy"), "AWS::IAM::Policy")
        assert {"kms:GenerateDataKey*", "kms:Decrypt"} <= _actions_on(policy, KMS_KEY_ARN)


def test_every_log_group_uses_the_customer_key(any_env: SynthesizedEnvironment) -> None:
    groups = {lid: r for lid, r in any_env.resources.items() if r["Type"] == "AWS::Logs::LogGroup"}
    assert len(groups) >= 8, "functions, state machines and the teardown provider each have a log group"
    keys = {lid: r["Properties"].get("KmsKeyId") for lid, r in groups.items()}
    expected = any_env.settings.kms_key_arn
    assert keys == dict.fromkeys(groups, expected)


def test_no_kms_permissions_without_a_customer_key(poc_env: SynthesizedEnvironment) -> None:
    if poc_env.settings.kms_key_arn:
        pytest.skip(f"{poc_env.name} sets a customer key")
    actions = {
        action
        for _, statement in policy_statements(poc_env.template_json)
        for action in as_list(statement.get("Action", []))
    }
    assert not {action for action in actions if action.startswith("kms:")}


# --- Notebook -----------------------------------------------------------------------------------


def test_notebook_instance_follows_the_settings(any_env: SynthesizedEnvironment) -> None:
    notebook = any_env.stack.notebook
    settings = any_env.settings.notebook
    assert_resource_like(
        any_env,
        notebook.instance,
        "AWS::SageMaker::NotebookInstance",
        {
            "NotebookInstanceName": f"{any_env.settings.name_prefix}-notebook",
            "InstanceType": settings.instance_type,
            "VolumeSizeInGB": settings.volume_size_gb,
            "RootAccess": "Disabled",
            "KmsKeyId": any_env.settings.kms_key_arn or Match.absent(),
            "RoleArn": {"Fn::GetAtt": [logical_id(notebook.role), "Arn"]},
            "LifecycleConfigName": {
                "Fn::GetAtt": [logical_id(notebook.lifecycle), "NotebookInstanceLifecycleConfigName"]
            },
        },
    )


def test_notebook_writes_the_poc_config_on_start(any_env: SynthesizedEnvironment) -> None:
    script = lifecycle_script(any_env)
    assert script.startswith("#!/bin/bash\n")
    config = json.loads(heredoc(script, "/home/ec2-user/SageMaker/poc-config.json", "POCJSON"))
    stack = any_env.stack
    # What the foundation publishes; the workflow adds its own keys next to these.
    assert (
        config.items()
        >= {
            "environment": any_env.name,
            "name_prefix": any_env.settings.name_prefix,
            "bucket": f"<{logical_id(stack.data.bucket)}>",
            "personalize_role_arn": f"<{logical_id(stack.personalize_role.role)}.Arn>",
            "parameter_path": f"/{any_env.settings.name_prefix}",
        }.items()
    )


def test_notebook_stops_itself_after_the_configured_idle_minutes(any_env: SynthesizedEnvironment) -> None:
    script = lifecycle_script(any_env)
    minutes = any_env.settings.notebook.idle_stop_minutes
    cron = re.search(r"^echo '(?P<line>[^']*)' > /etc/cron\.d/poc-idle-stop$", script, re.M)
    assert cron, "the on-start script does not install /etc/cron.d/poc-idle-stop"
    *schedule, user, interpreter, program, argument = cron["line"].split(" >> ")[0].split()
    assert len(schedule) == 5 and schedule[0].startswith("*/"), f"not a cron schedule: {schedule}"
    assert (user, program, argument) == ("root", "/home/ec2-user/poc-idle-stop.py", str(minutes))
    assert interpreter.endswith("python3")
    # The idle checker it installs is valid Python.
    ast.parse(heredoc(script, "/home/ec2-user/poc-idle-stop.py", "IDLESTOP"))


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_notebook_on_start_script_is_valid_bash(poc_env: SynthesizedEnvironment) -> None:
    result = subprocess.run(["bash", "-n"], input=lifecycle_script(poc_env), capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_notebook_role_is_for_sagemaker_and_has_no_managed_policies(any_env: SynthesizedEnvironment) -> None:
    role = resource(any_env, any_env.stack.notebook.role, "AWS::IAM::Role")
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [
        {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}}
    ]
    assert "ManagedPolicyArns" not in role["Properties"]


def test_no_role_has_a_full_access_managed_policy(any_env: SynthesizedEnvironment) -> None:
    attached = [
        (lid, str(render(arn)))
        for lid, body in any_env.resources.items()
        if body["Type"] == "AWS::IAM::Role"
        for arn in body["Properties"].get("ManagedPolicyArns", [])
    ]
    assert not [entry for entry in attached if "FullAccess" in entry[1]]


def test_no_policy_grants_a_whole_service(any_env: SynthesizedEnvironment) -> None:
    """Least privilege: no Allow of `*` or `<service>:*` actions in any identity policy."""
    broad = [
        (lid, action)
        for lid, statement in policy_statements(any_env.template_json)
        if statement["Effect"] == "Allow" and "Principal" not in statement
        for action in as_list(statement.get("Action", []))
        if action == "*" or action.endswith(":*")
    ]
    assert not broad


def test_notebook_passes_no_role(poc_env: SynthesizedEnvironment) -> None:
    """The notebooks create nothing, so the notebook role cannot hand the Personalize role to anything."""
    policy = resource(poc_env, poc_env.stack.notebook.poc_policy, "AWS::IAM::Policy")
    actions = [a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in as_list(s["Action"])]
    assert "iam:PassRole" not in actions


def test_notebook_personalize_access_is_scoped_to_the_poc(poc_env: SynthesizedEnvironment) -> None:
    """Every Personalize action but listing and recipe lookup reaches only the POC's dataset group and
    `<dataset group name>-*` resources (and event trackers, whose ARNs carry no name)."""
    policy = resource(poc_env, poc_env.stack.notebook.poc_policy, "AWS::IAM::Policy")
    unscoped_actions = ("personalize:List", "personalize:DescribeRecipe")
    scope = _dataset_group_name(poc_env)
    allowed_endings = (f"/{scope}-*", f":dataset-group/{scope}", f":dataset/{scope}/*", ":event-tracker/*")
    checked = 0
    for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
        actions = [a for a in as_list(statement["Action"]) if a.startswith("personalize:")]
        if not actions or all(a.startswith(unscoped_actions) for a in actions):
            continue
        resources = render(as_list(statement["Resource"]))
        assert all(r.endswith(allowed_endings) for r in resources), f"{actions} reach {resources}"
        checked += 1
    assert checked


def _dataset_group_name(env: SynthesizedEnvironment) -> str:
    """The POC's dataset group name, as the workflow's config state carries it."""
    return str(plan_from_template(env.template_json)["datasetGroup"]["name"])


def _personalize_resources(env: SynthesizedEnvironment) -> list[str]:
    """Every resource pattern of every statement that grants a personalize:* action (List* aside)."""
    patterns = []
    for _, statement in policy_statements(env.template_json):
        actions = [a for a in as_list(statement.get("Action", [])) if a.startswith("personalize:")]
        if statement.get("Effect") == "Allow" and any(not a.startswith("personalize:List") for a in actions):
            patterns += [
                str(r)
                .replace("<AWS::Partition>", "aws")
                .replace("<AWS::Region>", "eu-west-1")
                .replace("<AWS::AccountId>", "123456789012")
                for r in render(as_list(statement.get("Resource", [])))
            ]
    return patterns


def test_iam_scope_does_not_reach_an_environment_whose_prefix_extends_this_one(
    poc_env: SynthesizedEnvironment,
) -> None:
    """`ppoc-dev-*` would cover `ppoc-dev-eu-...`: no Personalize grant of this environment matches the
    resources another environment with a longer prefix (`<name_prefix>-eu`) makes for the same POC,
    while this environment's own resources match."""
    from tests.rehearsal.iam import wildcard_match

    base = "arn:aws:personalize:eu-west-1:123456789012"
    scope = _dataset_group_name(poc_env)
    group = scope.removeprefix(f"{poc_env.settings.name_prefix}-")
    other = f"{poc_env.settings.name_prefix}-eu-{group}"

    def arns(name: str) -> list[str]:
        return [
            f"{base}:dataset-group/{name}",
            f"{base}:campaign/{name}-main",
            f"{base}:dataset/{name}/INTERACTIONS",
            f"{base}:solution/{name}-sims/abcd1234",
        ]

    patterns = [p for p in _personalize_resources(poc_env) if not p.endswith((":event-tracker/*", ":recipe/*"))]
    assert patterns
    for arn in arns(other):
        assert not [p for p in patterns if wildcard_match(p, arn)], f"{arn} is within this environment's scope"
    for arn in arns(scope):
        assert [p for p in patterns if wildcard_match(p, arn)], f"{arn} (own) is outside the scope"


# --- Published values, names and tags ----------------------------------------------------------


def test_outputs_publish_what_users_need(poc_env: SynthesizedEnvironment) -> None:
    stack = poc_env.stack
    template = poc_env.template
    template.has_output("DataBucketName", {"Value": {"Ref": logical_id(stack.data.bucket)}})
    template.has_output(
        "PersonalizeRoleArn", {"Value": {"Fn::GetAtt": [logical_id(stack.personalize_role.role), "Arn"]}}
    )
    template.has_output("NotebookRoleArn", {"Value": {"Fn::GetAtt": [logical_id(stack.notebook.role), "Arn"]}})
    notebook_name = f"{poc_env.settings.name_prefix}-notebook"
    template.has_output("NotebookName", {"Value": notebook_name})
    url = render(poc_env.template_json["Outputs"]["NotebookUrl"]["Value"])
    assert url == f"https://{notebook_name}.notebook.<AWS::Region>.sagemaker.aws/tree"


def test_bucket_name_is_published_in_ssm(poc_env: SynthesizedEnvironment) -> None:
    poc_env.template.has_resource_properties(
        "AWS::SSM::Parameter",
        {
            "Name": f"/{poc_env.settings.name_prefix}/bucket-name",
            "Type": "String",
            "Value": {"Ref": logical_id(poc_env.stack.data.bucket)},
        },
    )


def test_stack_names_follow_the_prefix_and_do_not_collide(synthesized: SynthesizedApp) -> None:
    names = {name: env.stack.stack_name for name, env in synthesized.environments.items()}
    assert names["dev"] == "ppoc-dev-personalize-poc"
    assert names["prod"] == "ppoc-prod-personalize-poc"
    assert len(set(names.values())) == len(names)
    # The name the CLI deploys under is the one in the cloud assembly.
    for name, env in synthesized.environments.items():
        manifest = json.loads((env.template_path.parent / "manifest.json").read_text())
        deployed = {
            artifact["properties"]["stackName"]
            for artifact in manifest["artifacts"].values()
            if artifact["type"] == "aws:cloudformation:stack"
        }
        assert deployed == {names[name]}


# Properties that name a resource account-wide (within a region); two environments must not share one.
PHYSICAL_NAMES = {
    "AWS::SageMaker::NotebookInstance": "NotebookInstanceName",
    "AWS::SageMaker::NotebookInstanceLifecycleConfig": "NotebookInstanceLifecycleConfigName",
    "AWS::SSM::Parameter": "Name",
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::StepFunctions::StateMachine": "StateMachineName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Events::Rule": "Name",
}


def test_physical_names_differ_between_environments(synthesized: SynthesizedApp) -> None:
    """Two environments in one account must not fight over a notebook, a parameter, a log group..."""
    names: dict[str, set[str]] = {}
    for env_name, env in synthesized.environments.items():
        names[env_name] = {
            f"{body['Type']} {render(body['Properties'][PHYSICAL_NAMES[body['Type']]])}"
            for body in env.resources.values()
            if PHYSICAL_NAMES.get(body["Type"]) in body.get("Properties", {})
        }
        assert len(names[env_name]) >= 3, f"{env_name}: expected the notebook, lifecycle and parameter names"
    for first, second in itertools.combinations(names, 2):
        assert not names[first] & names[second], f"{first} and {second} share {names[first] & names[second]}"


def _tags(body: dict[str, Any]) -> dict[str, str] | None:
    tags = body.get("Properties", {}).get("Tags")
    if tags is None:
        return None
    if isinstance(tags, dict):  # AWS::SSM::Parameter spells tags as a mapping
        return tags
    return {tag["Key"]: tag["Value"] for tag in tags}


def test_environment_tags_are_applied(poc_env: SynthesizedEnvironment) -> None:
    expected = poc_env.settings.tags
    assert expected, "the shipped environments define tags"
    stack = poc_env.stack
    must_be_tagged = [
        stack.data.bucket,
        stack.data.access_logs,
        stack.personalize_role.role,
        stack.notebook.role,
        stack.notebook.instance,
        stack.notebook.lifecycle,
    ]
    for construct in must_be_tagged:
        tags = _tags(poc_env.resources[logical_id(construct)])
        assert tags is not None and tags.items() >= expected.items(), f"{logical_id(construct)}: {tags}"
    # And every resource that carries tags at all carries the environment's.
    for lid, body in poc_env.resources.items():
        tags = _tags(body)
        if tags is not None:
            assert tags.items() >= expected.items(), f"{lid} misses environment tags: {tags}"
