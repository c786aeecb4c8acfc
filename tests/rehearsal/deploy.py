"""Deploy a synthesized stack into moto, resource by resource, the way CloudFormation would.

File assets are published first (the asset directory zipped into the bootstrap bucket under the key
the assets manifest names), so a function's ``Code: {S3Bucket, S3Key}`` resolves as it does in AWS.
Then each resource the rehearsal needs is created with the template's own properties, resolved by
``cfn.Resolver``: IAM roles and their inline policies, S3 buckets, SNS topics, SSM parameters, Lambda
functions, versions and aliases, and the state machines (their ``DefinitionString`` resolved to the
moto ARNs). Physical names are chosen here (CloudFormation would generate them); everything else is
the template's.

Resources the rehearsal does not need (the notebook, topic policies, the auto-delete custom
resource...) are listed in ``Deployment.skipped`` and get placeholder references, so that a template
change which makes the workflow depend on one of them fails loudly when it is resolved.

For IAM (tests/rehearsal/iam.py): bucket policies and each bucket's SSE-KMS key are recorded, not put
into moto (moto's S3 would apply its own evaluator to them, which denies on a TLS-only Deny whose
condition does not match). A customer managed key the template names by ARN (``kms_key_arn``) is
created in moto under exactly that ARN, so its account must be moto's (``account``).
"""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError

from tests.rehearsal.cfn import PLACEHOLDER, Resolver, StackArtifact, UnresolvableError, references

BOOTSTRAP_BUCKET = "cdk-hnb659fds-assets-{account}-{region}"


@dataclass
class Deployment:
    stack: StackArtifact
    resolver: Resolver
    #: logical id -> physical id (name or ARN, whatever Ref gives)
    physical: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)  # logical id -> resolved ASL
    functions: dict[str, str] = field(default_factory=dict)  # logical id -> function name
    #: state machines whose definition Step Functions rejected: logical id -> reason
    rejected: dict[str, str] = field(default_factory=dict)
    #: bucket name -> its bucket policy's statements (resolved)
    bucket_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: bucket name -> the customer managed key of its default SSE-KMS encryption
    bucket_keys: dict[str, str] = field(default_factory=dict)
    #: customer managed keys the template refers to (created in moto under their ARN)
    customer_keys: list[str] = field(default_factory=list)

    def ref(self, logical_id: str) -> str:
        return str(self.resolver.refs[logical_id])

    def of_type(self, resource_type: str) -> dict[str, str]:
        return {lid: self.physical[lid] for lid in self.stack.of_type(resource_type) if lid in self.physical}

    def state_machine_named(self, suffix: str) -> str:
        matches = [arn for arn in self.state_machines.values() if arn.endswith(f":{suffix}")]
        if len(matches) != 1:
            raise KeyError(f"no single state machine named {suffix}: {sorted(self.state_machines.values())}")
        return matches[0]

    def bucket_with_prefix(self, logical_prefix: str) -> str:
        matches = [name for lid, name in self.of_type("AWS::S3::Bucket").items() if lid.startswith(logical_prefix)]
        if len(matches) != 1:
            raise KeyError(f"no single bucket {logical_prefix}*: {self.of_type('AWS::S3::Bucket')}")
        return matches[0]


def zip_directory(source: Path) -> bytes:
    """A deterministic zip of an asset directory (or a single file), as the CDK CLI publishes it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        if source.is_file():
            archive.write(source, source.name)
        else:
            for path in sorted(source.rglob("*")):
                if path.is_file():
                    info = zipfile.ZipInfo(str(path.relative_to(source)), date_time=(1980, 1, 1, 0, 0, 0))
                    info.external_attr = 0o644 << 16
                    archive.writestr(info, path.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


class Deployer:
    """Creates the stack's resources in moto (call inside ``mock_aws``)."""

    def __init__(self, stack: StackArtifact, *, region: str, account: str) -> None:
        self.stack = stack
        self.region = region
        self.account = account
        self.resolver = Resolver(
            region=region,
            account=account,
            stack_name=stack.stack_name,
            conditions=stack.template.get("Conditions", {}),
        )
        self.deployment = Deployment(stack=stack, resolver=self.resolver)
        session = boto3.session.Session(region_name=region)
        self.iam = session.client("iam")
        self.s3 = session.client("s3")
        self.sns = session.client("sns")
        self.ssm = session.client("ssm")
        self.awslambda = session.client("lambda")
        self.sfn = session.client("stepfunctions")
        self.logs = session.client("logs")

    # ------------------------------------------------------------------ names
    def _name(self, logical_id: str, limit: int = 64, lower: bool = False) -> str:
        name = f"{self.stack.stack_name}-{logical_id}"
        name = name.lower() if lower else name
        return name[:limit]

    def _skip(self, logical_id: str, resource_type: str) -> None:
        self.deployment.skipped[logical_id] = resource_type
        self.resolver.placeholders.add(logical_id)

    # ------------------------------------------------------------------ deployment
    def deploy(self) -> Deployment:
        self._publish_assets()
        self._customer_keys()
        resources = self.stack.resources
        handlers = {
            "AWS::IAM::Role": self._role,
            "AWS::IAM::Policy": self._policy,
            "AWS::Logs::LogGroup": self._log_group,
            "AWS::S3::Bucket": self._bucket,
            "AWS::S3::BucketPolicy": self._bucket_policy,
            "AWS::SNS::Topic": self._topic,
            "AWS::SSM::Parameter": self._parameter,
            "AWS::Lambda::Function": self._function,
            "AWS::Lambda::Version": self._version,
            "AWS::Lambda::Alias": self._alias,
            "AWS::StepFunctions::StateMachine": self._state_machine,
        }
        for logical_id in self._order(resources):
            resource = resources[logical_id]
            handler = handlers.get(resource["Type"])
            if handler is None or not self._wanted(logical_id, resource):
                self._skip(logical_id, resource["Type"])
                continue
            handler(logical_id, self.resolver.resolve(resource.get("Properties", {})))
        return self.deployment

    def _wanted(self, logical_id: str, resource: dict[str, Any]) -> bool:
        # Node.js functions (CDK's own custom-resource providers) would need Node in-process: not run.
        if resource["Type"] == "AWS::Lambda::Function":
            return str(resource.get("Properties", {}).get("Runtime", "")).startswith("python")
        if resource["Type"] in ("AWS::Lambda::Version", "AWS::Lambda::Alias"):
            target = references(resource["Properties"].get("FunctionName"))
            return all(t in self.deployment.functions for t in target)
        return True

    @staticmethod
    def _order(resources: dict[str, dict[str, Any]]) -> list[str]:
        """Dependencies first (Ref, GetAtt, Sub, DependsOn); otherwise template order."""
        ordered: list[str] = []
        state: dict[str, int] = {}

        def visit(logical_id: str) -> None:
            if state.get(logical_id) == 2 or logical_id not in resources:
                return
            if state.get(logical_id) == 1:
                raise ValueError(f"dependency cycle at {logical_id}")
            state[logical_id] = 1
            resource = resources[logical_id]
            depends = resource.get("DependsOn", [])
            for dependency in sorted(
                references(resource.get("Properties", {})) | set([depends] if isinstance(depends, str) else depends)
            ):
                visit(dependency)
            state[logical_id] = 2
            ordered.append(logical_id)

        for logical_id in resources:
            visit(logical_id)
        return ordered

    def _publish_assets(self) -> None:
        bucket = BOOTSTRAP_BUCKET.format(account=self.account, region=self.region)
        self._create_bucket(bucket)
        for key, source in self.stack.asset_sources.items():
            if source.is_dir() or source.suffix != ".json":  # the template itself needs no upload
                self.s3.put_object(Bucket=bucket, Key=key, Body=zip_directory(source))

    def _customer_keys(self) -> None:
        """Create each customer managed key the template names (``arn:...:kms:...:key/<id>``) in moto,
        under that very ARN (moto's CreateKey picks its own id, so the key is re-registered)."""
        from moto.kms.models import kms_backends

        text = json.dumps(self.stack.template)
        for arn in sorted(set(re.findall(r"arn:aws:kms:[a-z0-9-]+:\d{12}:key/[0-9a-f-]{36}", text))):
            _, _, _, region, account, resource = arn.split(":", 5)
            if account != self.account:
                raise RuntimeError(f"the key {arn} is in account {account}; the rehearsal's account is {self.account}")
            backend = kms_backends[account][region]
            key = backend.create_key(
                policy=None,
                key_usage="ENCRYPT_DECRYPT",
                key_spec="SYMMETRIC_DEFAULT",
                description="customer managed key of the rehearsal",
                tags=None,
            )
            del backend.keys[key.id]
            key.id = resource.split("/", 1)[1]
            key.arn = arn
            backend.keys[key.id] = key
            self.deployment.customer_keys.append(arn)

    def _create_bucket(self, name: str) -> None:
        if self.region == "us-east-1":
            self.s3.create_bucket(Bucket=name)
        else:
            self.s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": self.region})

    # ------------------------------------------------------------------ resource types
    def _role(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("RoleName") or self._name(logical_id)
        role = self.iam.create_role(
            RoleName=name,
            Path=props.get("Path", "/"),
            AssumeRolePolicyDocument=json.dumps(props["AssumeRolePolicyDocument"]),
            Description=props.get("Description", ""),
        )["Role"]
        for policy in props.get("Policies", []):
            self.iam.put_role_policy(
                RoleName=name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = role["Arn"]
        self.resolver.attributes[(logical_id, "RoleId")] = role["RoleId"]
        self.deployment.physical[logical_id] = name

    def _policy(self, logical_id: str, props: dict[str, Any]) -> None:
        document = json.dumps(props["PolicyDocument"])
        if PLACEHOLDER in document:  # names something not deployed (moto does not enforce IAM anyway)
            self.deployment.skipped[logical_id] = "AWS::IAM::Policy (refers to a resource not deployed)"
        else:
            for role in props.get("Roles", []):
                self.iam.put_role_policy(RoleName=role, PolicyName=props["PolicyName"], PolicyDocument=document)
        self.resolver.refs[logical_id] = props["PolicyName"]
        self.deployment.physical[logical_id] = props["PolicyName"]

    def _bucket(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("BucketName") or self._name(logical_id, 63, lower=True)
        self._create_bucket(name)
        if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            self.s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        for rule in props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
            default = rule.get("ServerSideEncryptionByDefault", {})
            if default.get("SSEAlgorithm") == "aws:kms" and default.get("KMSMasterKeyID"):
                self.deployment.bucket_keys[name] = str(default["KMSMasterKeyID"])
        self.resolver.refs[logical_id] = name
        arn = f"arn:aws:s3:::{name}"
        for attribute, value in {
            "Arn": arn,
            "DomainName": f"{name}.s3.amazonaws.com",
            "RegionalDomainName": f"{name}.s3.{self.region}.amazonaws.com",
        }.items():
            self.resolver.attributes[(logical_id, attribute)] = value
        self.deployment.physical[logical_id] = name

    def _bucket_policy(self, logical_id: str, props: dict[str, Any]) -> None:
        statements = props["PolicyDocument"]["Statement"]
        self.deployment.bucket_policies[str(props["Bucket"])] = (
            statements if isinstance(statements, list) else [statements]
        )
        self.deployment.physical[logical_id] = f"{props['Bucket']}-policy"

    def _log_group(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("LogGroupName") or f"/rehearsal/{self._name(logical_id)}"
        self.logs.create_log_group(logGroupName=name)
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = f"arn:aws:logs:{self.region}:{self.account}:log-group:{name}:*"
        self.deployment.physical[logical_id] = name

    def _topic(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("TopicName") or self._name(logical_id, 256)
        attributes = {"KmsMasterKeyId": str(props["KmsMasterKeyId"])} if props.get("KmsMasterKeyId") else {}
        arn = self.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        self.resolver.refs[logical_id] = arn
        self.resolver.attributes[(logical_id, "TopicArn")] = arn
        self.resolver.attributes[(logical_id, "TopicName")] = name
        self.deployment.physical[logical_id] = arn

    def _parameter(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("Name") or f"/{self._name(logical_id)}"
        self.ssm.put_parameter(
            Name=name,
            Value=str(props["Value"]),
            Type=props.get("Type", "String"),
            Description=props.get("Description", ""),
            Overwrite=True,
        )
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Value")] = props["Value"]
        self.deployment.physical[logical_id] = name

    def _function(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("FunctionName") or self._name(logical_id)
        request: dict[str, Any] = {
            "FunctionName": name,
            "Runtime": props["Runtime"],
            "Role": props["Role"],
            "Handler": props["Handler"],
            "Code": {k: v for k, v in props["Code"].items() if k in ("S3Bucket", "S3Key", "ZipFile")},
            "Description": props.get("Description", ""),
            "Timeout": int(props.get("Timeout", 3)),
            "MemorySize": int(props.get("MemorySize", 128)),
            "Environment": props.get("Environment", {"Variables": {}}),
            "Architectures": props.get("Architectures", ["x86_64"]),
            # Layers: the Powertools layer is public (another account); in-process the virtualenv's
            # aws-lambda-powertools plays its part.
        }
        function = self.awslambda.create_function(**request)
        self.resolver.refs[logical_id] = name
        self.resolver.attributes[(logical_id, "Arn")] = function["FunctionArn"]
        self.deployment.physical[logical_id] = name
        self.deployment.functions[logical_id] = name

    def _version(self, logical_id: str, props: dict[str, Any]) -> None:
        version = self.awslambda.publish_version(
            FunctionName=props["FunctionName"], Description=props.get("Description", "")
        )
        self.resolver.refs[logical_id] = version["FunctionArn"]
        self.resolver.attributes[(logical_id, "Version")] = version["Version"]
        self.deployment.physical[logical_id] = version["FunctionArn"]

    def _alias(self, logical_id: str, props: dict[str, Any]) -> None:
        alias = self.awslambda.create_alias(
            FunctionName=props["FunctionName"],
            Name=props["Name"],
            FunctionVersion=str(props["FunctionVersion"]),
        )
        self.resolver.refs[logical_id] = alias["AliasArn"]
        self.deployment.physical[logical_id] = alias["AliasArn"]

    def _state_machine(self, logical_id: str, props: dict[str, Any]) -> None:
        name = props.get("StateMachineName") or self._name(logical_id, 80)
        definition = props.get("DefinitionString")
        if definition is None:
            definition = json.dumps(props["Definition"])
        if PLACEHOLDER in definition:  # e.g. CDK's provider framework, whose functions are Node.js
            missing = definition[definition.index(PLACEHOLDER) + len(PLACEHOLDER) :].split('"', 1)[0]
            self.deployment.rejected[logical_id] = f"{name}: refers to {missing}, which the rehearsal does not run"
            self.resolver.placeholders.add(logical_id)
            return
        parsed = json.loads(definition)
        try:
            arn = self.sfn.create_state_machine(
                name=name,
                definition=definition,
                roleArn=props["RoleArn"],
                type=props.get("StateMachineType", "STANDARD"),
            )["stateMachineArn"]
        except ClientError as error:
            # Step Functions rejects the definition (as CloudFormation would): recorded, and the
            # rehearsal of that workflow fails with this message; other workflows still deploy.
            self.deployment.rejected[logical_id] = f"{name}: {error.response['Error'].get('Message', error)}"
            self.resolver.placeholders.add(logical_id)
            return
        self.resolver.refs[logical_id] = arn
        self.resolver.attributes[(logical_id, "Arn")] = arn
        self.resolver.attributes[(logical_id, "Name")] = name
        self.deployment.physical[logical_id] = arn
        self.deployment.state_machines[logical_id] = arn
        self.deployment.definitions[logical_id] = parsed


def deploy_stack(stack: StackArtifact, *, region: str = "eu-west-1", account: str | None = None) -> Deployment:
    account = account or os.environ.get("MOTO_ACCOUNT_ID", "123456789012")
    try:
        return Deployer(stack, region=region, account=account).deploy()
    except UnresolvableError as error:
        raise RuntimeError(f"the rehearsal cannot deploy {stack.stack_name}: {error}") from error


def asset_root(stack: StackArtifact, function_logical_id: str) -> Path:
    """The cdk.out directory of a function's code (what ran must come from here)."""
    code = stack.resources[function_logical_id]["Properties"]["Code"]
    return stack.asset_sources[code["S3Key"]]
