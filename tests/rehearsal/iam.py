"""IAM and KMS for the rehearsal: every caller acts under its synthesized role, as in AWS (issue 9).

Who is checked, and where:

* **Lambda handlers** get the credentials of ``sts:AssumeRole`` on their function's role
  (``credentials_for``). moto's own request authentication (``moto.core.enable_iam_authentication``,
  ``moto.iam.access_control``: signature, access key -> assumed role) identifies the caller; the
  decision is made here (``enforced_in_moto``), because moto's evaluator passes ``*`` as the resource of
  most services and turns an Allow statement whose condition does not match into a Deny. moto then
  answers its AccessDenied error. Callers without a role session (the harness setting things up, the
  Step Functions interpreter's own clients) are not checked: they play CloudFormation and the service.
* **Personalize** is the double, not moto: ``caller_access`` (its ``caller_access`` hook) checks
  ``personalize:<Operation>`` on the ARN the call targets, the new resource's ARN for Create*
  (resource types of each action: Service Authorization Reference, "Actions, resources, and condition
  keys for Amazon Personalize"), ``*`` for List*, and the implied ``iam:PassRole``
  (``iam:PassedToService`` = personalize.amazonaws.com) for a passed ``roleArn`` and
  ``personalize:TagResource`` for ``tags`` (both listed beside the Create actions in that reference).
  Denied: ``AccessDeniedException``, HTTP 400, as the service's JSON protocol answers it.
* **State machine tasks** (Lambda invoke, SNS publish, StartExecution...) are checked against the state
  machine's role at the task (``state_machine_tasks``): a denied call raises the service's own error code, and
  moto's interpreter turns it into the task failure Step Functions reports (``Lambda.AccessDeniedException``,
  ``SNS.AuthorizationErrorException``, ``SNS.KMSAccessDeniedException``), which a Catch sees.
* **The Personalize service** acting with its role (``service_access``, the double's hook): the role's
  policies, the bucket policy (resource policy, same account) and, for KMS, the key policy.

Implied KMS use (a customer managed key; AWS managed ``alias/aws/*`` keys allow every principal of the
account that may use the service): SNS Publish to a topic with ``KmsMasterKeyId`` needs
``kms:GenerateDataKey*`` and ``kms:Decrypt`` (SNS developer guide, "Key management": publishers need
those two); S3 PutObject into an SSE-KMS bucket ``kms:GenerateDataKey``, GetObject ``kms:Decrypt`` (S3
user guide, "Using server-side encryption with AWS KMS keys": permissions). A KMS action is allowed
when the key policy allows it: either naming the principal, or the account root (then IAM policies
decide) - "Key policies in AWS KMS", default key policy.

Key policy model: moto does not evaluate key policies, so ``key_policy`` is the policy the README asks
the key's owner to have (the default root statement plus the Personalize and CloudWatch Logs
statements); ``tests/test_rehearsal_iam.py`` checks the README's JSON and this one agree.

Strict side where the service's behaviour is not documented: the prefix Personalize lists a bucket
with is unknown, so a ``s3:ListBucket`` asked through ``service_access`` carries no ``s3:prefix``
(a grant conditioned on a prefix does not match). moto authorizes ``HeadObject`` as ``s3:GetObject``
(as S3 does), and on an SSE-KMS bucket that asks for ``kms:Decrypt`` too (S3 may not need the key for a
HEAD; the stricter side).

Decisions are cached per (principal, action, resource, context, policies), so the cost per call is a
dictionary look-up once a pair has been seen.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import boto3
from botocore.exceptions import ClientError

PERSONALIZE_PRINCIPAL = "personalize.amazonaws.com"
SESSION_NAME = "rehearsal"
#: Who the harness is to moto (not a role session: not checked), whatever the process's variables say.
HARNESS_CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "aws_session_token": "testing",
}
AWS_MANAGED_KEY_ALIAS = re.compile(r"(^|:)alias/aws/")

Context = Mapping[str, str | list[str]]


# --------------------------------------------------------------------------------------------------
# The policy evaluator (IAM User Guide, "Policy evaluation logic" and "IAM JSON policy elements")
# --------------------------------------------------------------------------------------------------
def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@functools.lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: * any run of characters (also across ':' and '/'), ? one character.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).match(value) is not None


def _string_values(value: Any) -> list[str]:
    return [("true" if v else "false") if isinstance(v, bool) else str(v) for v in _as_list(value)]


_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringEqualsIgnoreCase": lambda actual, expected: actual.lower() == expected.lower(),
    "StringLike": lambda actual, expected: wildcard_match(expected, actual),
    "ArnEquals": lambda actual, expected: actual == expected,
    "ArnLike": lambda actual, expected: wildcard_match(expected, actual),
    "Bool": lambda actual, expected: actual.lower() == expected.lower(),
    "NumericEquals": lambda actual, expected: float(actual) == float(expected),
    "NumericLessThan": lambda actual, expected: float(actual) < float(expected),
    "NumericLessThanEquals": lambda actual, expected: float(actual) <= float(expected),
    "NumericGreaterThan": lambda actual, expected: float(actual) > float(expected),
    "NumericGreaterThanEquals": lambda actual, expected: float(actual) >= float(expected),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def condition_holds(operator: str, key: str, expected: Any, context: Context) -> bool:
    """One condition key under one operator. A key missing from the request context does not match,
    except for negated operators, ``...IfExists`` and ``Null`` ("Condition operators", IAM User Guide)."""
    qualifier, _, name = operator.rpartition(":")
    if_exists = name.endswith("IfExists")
    name = name.removesuffix("IfExists")
    present = key in context or key.lower() in {k.lower() for k in context}
    actual = next((v for k, v in context.items() if k.lower() == key.lower()), None)
    expected_values = _string_values(expected)
    if name == "Null":
        return (actual is None) == (expected_values[0].lower() == "true")
    if not present or actual is None:
        return if_exists or name in _NEGATED
    actual_values = _string_values(actual)
    if name in _NEGATED:
        test = _OPERATORS[_NEGATED[name]]
        matches = [any(test(a, e) for e in expected_values) for a in actual_values]
        return not any(matches) if qualifier != "ForAllValues" else not all(matches)
    if name not in _OPERATORS:
        raise NotImplementedError(f"condition operator {operator} is not modelled by the rehearsal")
    test = _OPERATORS[name]
    matches = [any(test(a, e) for e in expected_values) for a in actual_values]
    return all(matches) if qualifier == "ForAllValues" else any(matches)


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a role session of this account, or an AWS service principal."""

    account: str
    role_arn: str | None = None
    service: str | None = None

    def matches(self, element: Any) -> bool:
        if element == "*":
            return True
        if not isinstance(element, Mapping):
            return False
        for kind, values in element.items():
            for value in _as_list(values):
                if kind == "Service" and self.service and value == self.service:
                    return True
                if kind == "AWS" and self.role_arn and (value == "*" or value == self.role_arn):
                    return True
        return False

    def is_root_of_account(self, element: Any) -> bool:
        """A statement for the account root delegates to the account's IAM policies."""
        if not isinstance(element, Mapping) or self.role_arn is None:
            return False
        root = {self.account, f"arn:aws:iam::{self.account}:root"}
        return any(v in root for v in _as_list(element.get("AWS", [])))


def statement_matches(
    statement: Mapping[str, Any], action: str, resource: str, context: Context, principal: Principal | None = None
) -> bool:
    if "Action" in statement:
        if not any(wildcard_match(a, action, ignore_case=True) for a in _as_list(statement["Action"])):
            return False
    elif any(wildcard_match(a, action, ignore_case=True) for a in _as_list(statement.get("NotAction", []))):
        return False
    if "Resource" in statement:
        if not any(wildcard_match(r, resource) for r in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement and any(wildcard_match(r, resource) for r in _as_list(statement["NotResource"])):
        return False
    if principal is not None and "Principal" in statement and not principal.matches(statement["Principal"]):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, expected in keys.items():
            if not condition_holds(operator, key, expected, context):
                return False
    return True


def decide(
    statements: Iterable[Mapping[str, Any]],
    action: str,
    resource: str,
    context: Context,
    principal: Principal | None = None,
) -> str | None:
    """ "Deny" (an explicit deny matches), "Allow" (an allow matches, no deny), or None (implicit deny)."""
    allowed = False
    for statement in statements:
        if statement_matches(statement, action, resource, context, principal):
            if statement.get("Effect") == "Deny":
                return "Deny"
            allowed = True
    return "Allow" if allowed else None


def statements_of(document: str | Mapping[str, Any]) -> list[dict[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    return [dict(s) for s in _as_list(parsed.get("Statement", []))]


# --------------------------------------------------------------------------------------------------
# The key policy the README asks for (moto keeps none)
# --------------------------------------------------------------------------------------------------
PERSONALIZE_KEY_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant", "kms:ListGrants"]


def key_policy(account: str, region: str) -> dict[str, Any]:
    """The customer key's policy as the README states it: the account root (IAM policies decide for
    the account's roles), Amazon Personalize on behalf of this account ("Giving Amazon Personalize
    permission to use your AWS KMS key"), CloudWatch Logs for the log groups ("Encrypt log data in
    CloudWatch Logs using AWS KMS")."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EnableIamPolicies",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowPersonalize",
                "Effect": "Allow",
                "Principal": {"Service": PERSONALIZE_PRINCIPAL},
                "Action": PERSONALIZE_KEY_ACTIONS,
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceAccount": account}},
            },
            {
                "Sid": "AllowCloudWatchLogs",
                "Effect": "Allow",
                "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
                "Resource": "*",
                "Condition": {
                    "ArnLike": {"kms:EncryptionContext:aws:logs:arn": f"arn:aws:logs:{region}:{account}:log-group:*"}
                },
            },
        ],
    }


# --------------------------------------------------------------------------------------------------
# The account's policies, read from moto and the deployment
# --------------------------------------------------------------------------------------------------
@dataclass
class AccountPolicies:
    """Identity policies from moto's IAM; resource policies (bucket, key) and encryption settings from
    the deployed template (moto's own S3 evaluator would misread the TLS-only Deny, so bucket policies
    are not put into moto)."""

    account: str
    region: str
    bucket_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    bucket_keys: dict[str, str] = field(default_factory=dict)  # bucket -> customer key ARN (SSE-KMS)
    key_policies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # key ARN -> statements

    def role_documents(self, role_arn: str) -> tuple[str, ...]:
        from moto.iam.models import iam_backends

        role = iam_backends[self.account]["aws"].get_role_by_arn(role_arn)
        documents = [str(d) for d in role.policies.values()]
        for managed in role.managed_policies.values():
            version = next(v for v in managed.versions if v.is_default)
            documents.append(str(version.document))
        return tuple(documents)

    def topic_key(self, topic_arn: str) -> str | None:
        from moto.sns.models import sns_backends

        region = topic_arn.split(":")[3]
        topic = sns_backends[self.account][region].topics.get(topic_arn)
        key = topic.kms_master_key_id if topic is not None else ""
        return self.customer_key(key)

    def customer_key(self, key: str | None) -> str | None:
        """The ARN of a customer managed key, or None (no key, or an AWS managed alias/aws/* key)."""
        if not key or AWS_MANAGED_KEY_ALIAS.search(key):
            return None
        if key.startswith("arn:"):
            return key
        return f"arn:aws:kms:{self.region}:{self.account}:key/{key}"


# --------------------------------------------------------------------------------------------------
# The rehearsal's IAM
# --------------------------------------------------------------------------------------------------
class Denied(PermissionError):
    """A request IAM does not allow; the message reads like the service's."""


class RehearsalIam:
    def __init__(self, account: str, region: str) -> None:
        self.account = account
        self.region = region
        self.policies = AccountPolicies(account, region)
        #: access key id -> role ARN, for every role session handed out
        self.sessions: dict[str, str] = {}
        self._credentials: dict[str, dict[str, str]] = {}
        self._decisions: dict[tuple[Any, ...], bool] = {}
        self._statements: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        self._lock = threading.RLock()
        #: every denial, as (principal, action, resource), for tests and the summary
        self.denials: list[tuple[str, str, str]] = []
        self._last = threading.local()  # the action of this thread's latest denial
        self.checks = 0

    # ------------------------------------------------------------------ credentials
    def credentials_for(self, role_arn: str) -> dict[str, str]:
        """Credentials of a session of ``role_arn`` (one per role, like a warm Lambda container's).

        Asked as the harness (fixed fake credentials, never the process's: those may be a role session a
        test has put there), and without holding the lock (moto's check of the call takes it)."""
        with self._lock:
            known = self._credentials.get(role_arn)
        if known is not None:
            return known
        sts = boto3.session.Session(**HARNESS_CREDENTIALS, region_name=self.region).client("sts")
        found = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
        credentials = {
            "aws_access_key_id": found["AccessKeyId"],
            "aws_secret_access_key": found["SecretAccessKey"],
            "aws_session_token": found["SessionToken"],
        }
        with self._lock:
            self.sessions[found["AccessKeyId"]] = role_arn
            return self._credentials.setdefault(role_arn, credentials)

    def role_of_client(self, client: Any) -> str | None:
        credentials = client._request_signer._credentials  # noqa: SLF001 - the client's own signer
        if credentials is None:
            return None
        return self.sessions.get(credentials.get_frozen_credentials().access_key)

    # ------------------------------------------------------------------ decisions
    def _role_statements(self, role_arn: str) -> list[dict[str, Any]]:
        documents = self.policies.role_documents(role_arn)
        cached = self._statements.get(documents)
        if cached is None:
            cached = [s for d in documents for s in statements_of(d)]
            self._statements[documents] = cached
        return cached

    def identity_allows(self, role_arn: str, action: str, resource: str, context: Context | None = None) -> bool:
        return self._decide(("identity", role_arn), action, resource, context or {})

    def _decide(self, who: tuple[str, str], action: str, resource: str, context: Context) -> bool:
        kind, name = who
        documents = self.policies.role_documents(name) if kind in ("identity", "role") else ()
        key = (who, action, resource, tuple(sorted((k, str(v)) for k, v in context.items())), documents)
        found = self._decisions.get(key)
        if found is None:
            found = self._evaluate(kind, name, action, resource, context)
            self._decisions[key] = found
        self.checks += 1
        return found

    def _evaluate(self, kind: str, name: str, action: str, resource: str, context: Context) -> bool:
        if kind == "identity":
            return decide(self._role_statements(name), action, resource, context) == "Allow"
        if kind == "role":  # a role session of this account: identity + same-account resource policies
            principal = Principal(self.account, role_arn=name)
            identity = decide(self._role_statements(name), action, resource, context)
            resource_policy = decide(self._resource_policy(resource), action, resource, context, principal)
            if "Deny" in (identity, resource_policy):
                return False
            return "Allow" in (identity, resource_policy)
        # kind == "service": the service principal by resource policy only
        principal = Principal(self.account, service=name)
        return decide(self._resource_policy(resource), action, resource, context, principal) == "Allow"

    def _resource_policy(self, resource: str) -> list[dict[str, Any]]:
        if resource.startswith("arn:aws:s3:::"):
            bucket = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            return self.policies.bucket_policies.get(bucket, [])
        return []

    def key_allows(self, role_arn: str | None, service: str | None, action: str, key_arn: str) -> bool:
        """The key policy: allows the principal directly, or the account root (then IAM decides)."""
        statements = self.policies.key_policies.get(key_arn)
        if statements is None:
            return False  # a key the rehearsal does not know (not created): KMS answers NotFound/denied
        context = {"aws:SourceAccount": self.account} if service else {}
        principal = Principal(self.account, role_arn=role_arn, service=service)
        allowed = False
        for statement in statements:
            if not statement_matches({k: v for k, v in statement.items() if k != "Principal"}, action, "*", context):
                continue
            direct = principal.matches(statement.get("Principal"))
            via_iam = principal.is_root_of_account(statement.get("Principal")) and role_arn is not None
            if statement.get("Effect") == "Deny" and (direct or via_iam):
                return False
            if direct or (via_iam and self.identity_allows(role_arn or "", action, key_arn)):
                allowed = True
        return allowed

    def role_may(self, role_arn: str, action: str, resource: str, context: Context | None = None) -> str | None:
        """None when a session of ``role_arn`` may do ``action`` on ``resource`` (identity and resource
        policies, and the implied KMS use); otherwise the reason, in the services' own words."""
        context = {"aws:SecureTransport": "true", **(context or {})}
        if not self._decide(("role", role_arn), action, resource, context):
            return self._denial(role_arn, action, resource, f"no identity-based policy allows the {action} action")
        for kms_action, key_arn in self.implied_key_use(action, resource):
            if not self.key_allows(role_arn, None, kms_action, key_arn):
                return self._denial(role_arn, kms_action, key_arn, "the key policy and IAM policies do not allow it")
        return None

    def implied_key_use(self, action: str, resource: str) -> list[tuple[str, str]]:
        action = action.lower()
        if action == "sns:publish":
            key = self.policies.topic_key(resource)
            return [("kms:GenerateDataKey", key), ("kms:Decrypt", key)] if key else []
        if resource.startswith("arn:aws:s3:::") and "/" in resource:
            key = self.policies.bucket_keys.get(resource.removeprefix("arn:aws:s3:::").split("/", 1)[0])
            if key and action == "s3:putobject":
                return [("kms:GenerateDataKey", key)]
            if key and action == "s3:getobject":
                return [("kms:Decrypt", key)]
        return []

    def _denial(self, principal: str, action: str, resource: str, why: str) -> str:
        session = f"arn:aws:sts::{self.account}:assumed-role/{principal.rsplit('/', 1)[-1]}/{SESSION_NAME}"
        self._last.action = action
        with self._lock:
            self.denials.append((principal, action, resource))
        return f"User: {session} is not authorized to perform: {action} on resource: {resource} because {why}"

    # ------------------------------------------------------------------ the Personalize service (double hook)
    def service_access(self, role_arn: str, action: str, resource: str, context: Context | None = None) -> None:
        """Amazon Personalize, with the role passed to it, acts on ``resource``: the role's policies and
        the bucket policy for S3 (plus the bucket's key for SSE-KMS objects); for KMS, the role's
        policies and the key policy (CreateGrant: the key policy only, as the KMS page says)."""
        context = {"aws:SecureTransport": "true", "aws:SourceAccount": self.account, **(context or {})}
        if not role_arn:
            raise Denied(f"no role was passed to Amazon Personalize for {action} on {resource}")
        if action.startswith("kms:"):
            key_only = action == "kms:CreateGrant"
            by_role = self.key_allows(role_arn, None, action, resource) and (
                key_only or self.identity_allows(role_arn, action, resource)
            )
            by_service = self.key_allows(None, PERSONALIZE_PRINCIPAL, action, resource) and (
                key_only or self.identity_allows(role_arn, action, resource)
            )
            if not (by_role or by_service):
                raise Denied(
                    self._denial(role_arn, action, resource, "the key policy or the role's policy does not allow it")
                )
            return
        identity = decide(self._role_statements(role_arn), action, resource, context)
        if not action.startswith("s3:"):
            # Not S3 (cloudwatch:PutMetricData of a metric attribution): no resource policy, the role's decides.
            if identity != "Allow":
                raise Denied(self._denial(role_arn, action, resource, "the role's policy does not allow it"))
            return
        by_service = decide(
            self._resource_policy(resource),
            action,
            resource,
            context,
            Principal(self.account, service=PERSONALIZE_PRINCIPAL),
        )
        by_role = decide(
            self._resource_policy(resource), action, resource, context, Principal(self.account, role_arn=role_arn)
        )
        if "Deny" in (identity, by_service, by_role) or identity != "Allow":
            raise Denied(self._denial(role_arn, action, resource, "the role's policy does not allow it"))
        if by_service != "Allow" and by_role != "Allow":
            # Personalize's guide asks for a bucket policy for the service principal as well as the role's
            # policy ("Giving Amazon Personalize access to Amazon S3 resources").
            raise Denied(
                self._denial(role_arn, action, resource, "the bucket policy does not allow Amazon Personalize")
            )
        for kms_action, key_arn in self.implied_key_use(action, resource):
            self.service_access(role_arn, kms_action, key_arn)

    # ------------------------------------------------------------------ callers of Personalize (double hook)
    def caller_access(self, client: Any, operation_name: str, params: Mapping[str, Any]) -> None:
        """A handler's personalize:* call: AccessDeniedException (HTTP 400) when its role may not."""
        role_arn = self.role_of_client(client)
        if role_arn is None:
            return  # the test or the harness itself, not a deployed caller
        region = client.meta.region_name
        for action, resource, context in personalize_checks(client, operation_name, params, region, self.account):
            reason = self.role_may(role_arn, action, resource, context)
            if reason is not None:
                raise ClientError(_error_response("AccessDeniedException", reason, 400), operation_name)

    # ------------------------------------------------------------------ moto's request authorization
    @contextlib.contextmanager
    def enforced_in_moto(self) -> Iterator[None]:
        """moto checks every request signed by a role session handed out here; others pass."""
        from moto.core import enable_iam_authentication
        from moto.core.authorization import ActionAuthenticatorMixin
        from moto.iam.access_control import IAMRequestBase

        rehearsal_iam = self
        original_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action  # noqa: SLF001
        original_check = IAMRequestBase.check_action_permitted

        def authorize(response: Any, iam_request_cls: type, resource: str = "*") -> None:
            header = response.headers.get("Authorization", "")
            access_key = header.partition("Credential=")[2].split("/", 1)[0]
            if access_key in rehearsal_iam.sessions:
                original_authorize(response, iam_request_cls, resource)

        def check(request: Any, resource: str) -> None:
            role_arn = rehearsal_iam.sessions[request._access_key._access_key_id]  # noqa: SLF001
            service, _, operation = request._action.partition(":")  # noqa: SLF001
            params = _request_params(request)
            for action, target, context in moto_request_checks(
                service,
                operation,
                params,
                resource,
                request._path,
                request._region,
                request.account_id,  # noqa: SLF001
            ):
                if rehearsal_iam.role_may(role_arn, action, target, context) is not None:
                    request._raise_access_denied()  # noqa: SLF001

        ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize  # type: ignore[method-assign]  # noqa: SLF001
        IAMRequestBase.check_action_permitted = check  # type: ignore[method-assign]
        try:
            with enable_iam_authentication():
                yield
        finally:
            ActionAuthenticatorMixin._authenticate_and_authorize_action = original_authorize  # type: ignore[method-assign]  # noqa: SLF001
            IAMRequestBase.check_action_permitted = original_check  # type: ignore[method-assign]

    # ------------------------------------------------------------------ state machine tasks
    @contextlib.contextmanager
    def state_machine_tasks(self) -> Iterator[None]:
        """Clients of moto's Step Functions interpreter check each call against the role of the state
        machine whose task makes it (the interpreter passes the execution's role as ``state_credentials``)."""
        import importlib
        import pkgutil

        import moto.stepfunctions.parser as parser

        patched: list[tuple[Any, Any]] = []
        for info in pkgutil.walk_packages(parser.__path__, parser.__name__ + "."):
            if "state_task" not in info.name and "resource_eval" not in info.name:
                continue
            module = importlib.import_module(info.name)
            original = getattr(module, "boto_client_for", None)
            if original is None or getattr(original, "_rehearsal_iam", False):
                continue
            patched.append((module, original))
            module.boto_client_for = self._task_client_factory(original)
        try:
            yield
        finally:
            for module, original in patched:
                module.boto_client_for = original

    def _task_client_factory(self, create: Callable[..., Any]) -> Any:
        rehearsal_iam = self

        def boto_client_for(*args: Any, **kwargs: Any) -> Any:
            client = create(*args, **kwargs)
            state_credentials = kwargs.get("state_credentials", args[2] if len(args) > 2 else None)
            role_arn = getattr(state_credentials, "role_arn", None)
            if role_arn:
                client.meta.events.register(
                    "before-parameter-build.*.*", functools.partial(rehearsal_iam._task_call, role_arn)
                )
            return client

        boto_client_for._rehearsal_iam = True  # type: ignore[attr-defined]
        return boto_client_for

    def _task_call(self, role_arn: str, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        service = model.service_model.service_name
        region = self.region
        for action, resource in task_checks(service, model.name, params, region, self.account):
            reason = self.role_may(role_arn, action, resource)
            if reason is None:
                continue
            code, status = _TASK_DENIAL_CODES.get(service, ("AccessDeniedException", 400))
            if service == "sns" and getattr(self._last, "action", "").startswith("kms:"):
                # The topic's key refused: SNS answers KMSAccessDenied (botocore: KMSAccessDeniedException, 400).
                code, status = "KMSAccessDenied", 400
            raise ClientError(_error_response(code, reason, status), model.name)


# The error each service answers when IAM denies (botocore models: SNS AuthorizationErrorException
# "AuthorizationError" 403; Lambda, Step Functions AccessDeniedException).
_TASK_DENIAL_CODES = {"sns": ("AuthorizationError", 403), "lambda": ("AccessDeniedException", 403)}


def _error_response(code: str, message: str, status: int) -> dict[str, Any]:
    return {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "rehearsal-iam", "HTTPHeaders": {}},
    }


def _bucket_of(resource: str) -> str:
    return resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]


# --------------------------------------------------------------------------------------------------
# Which IAM actions and resources a call needs
# --------------------------------------------------------------------------------------------------
#: Create* operations: the new resource's ARN (resource types of each action in the Service
#: Authorization Reference for Amazon Personalize), from the request's name.
_PERSONALIZE_CREATED = {
    "CreateDatasetGroup": ("dataset-group", "name"),
    "CreateSchema": ("schema", "name"),
    "CreateDatasetImportJob": ("dataset-import-job", "jobName"),
    "CreateSolution": ("solution", "name"),
    "CreateCampaign": ("campaign", "name"),
    "CreateFilter": ("filter", "name"),
    "CreateEventTracker": ("event-tracker", "name"),
    "CreateBatchInferenceJob": ("batch-inference-job", "jobName"),
    "CreateBatchSegmentJob": ("batch-segment-job", "jobName"),
    "CreateRecommender": ("recommender", "name"),
    "CreateMetricAttribution": ("metric-attribution", "name"),
    "CreateDatasetExportJob": ("dataset-export-job", "jobName"),
    "CreateDataDeletionJob": ("data-deletion-job", "jobName"),
}


def personalize_resource(client: Any, operation: str, params: Mapping[str, Any], region: str, account: str) -> str:
    base = f"arn:aws:personalize:{region}:{account}"
    if operation.startswith("List"):
        return "*"  # List actions support no resource-level permissions
    if operation == "CreateDataset":
        group = str(params["datasetGroupArn"]).rsplit("/", 1)[-1]
        return f"{base}:dataset/{group}/{str(params['datasetType']).upper()}"
    if operation in _PERSONALIZE_CREATED:
        kind, name = _PERSONALIZE_CREATED[operation]
        return f"{base}:{kind}/{params[name]}"
    shape = client.meta.service_model.operation_model(operation).input_shape
    required = list(getattr(shape, "required_members", []) or [])
    for member in required + [m for m in params if m not in required]:
        if member.endswith("Arn") and member != "roleArn" and member in params:
            return str(params[member])
    return "*"


def personalize_checks(
    client: Any, operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[tuple[str, str, Context]]:
    resource = personalize_resource(client, operation, params, region, account)
    checks: list[tuple[str, str, Context]] = [(f"personalize:{operation}", resource, {})]
    # CreateMetricAttribution/UpdateMetricAttribution pass the role inside metricsOutputConfig.
    for role in (params.get("roleArn"), (params.get("metricsOutputConfig") or {}).get("roleArn")):
        if role:
            checks.append(("iam:PassRole", str(role), {"iam:PassedToService": PERSONALIZE_PRINCIPAL}))
    if params.get("tags") and operation != "TagResource":
        checks.append(("personalize:TagResource", resource, {}))
    return checks


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _request_params(request: Any) -> dict[str, Any]:
    body = request._body  # noqa: SLF001
    if body:
        with contextlib.suppress(ValueError, TypeError):
            parsed = json.loads(body)
            if isinstance(parsed, dict):
                return parsed
    return {k: _first(v) for k, v in (request._data or {}).items()}  # noqa: SLF001


def _ssm_parameter_arn(name: str, region: str, account: str) -> str:
    return f"arn:aws:ssm:{region}:{account}:parameter/{str(name).lstrip('/')}"


def moto_request_checks(
    service: str, operation: str, params: Mapping[str, Any], resource: str, path: str, region: str, account: str
) -> list[tuple[str, str, Context]]:
    """(IAM action, resource, condition context) for a request moto authorizes. moto names S3's action
    and resource itself; other services get ``*`` from moto, so the resource comes from the request."""
    action = f"{service}:{operation}"
    if service == "s3":
        query = parse_qs(urlparse(path).query)
        context: dict[str, str | list[str]] = {}
        if operation == "ListBucket":
            context["s3:prefix"] = query.get("prefix", [""])[0]
        return [(action, resource, context)]
    if service == "ssm":
        names = params.get("Names") or [params.get("Name") or params.get("Path") or ""]
        return [(action, _ssm_parameter_arn(n, region, account), {}) for n in names]
    if service == "sns":
        return [(action, str(params.get("TopicArn") or params.get("TargetArn") or "*"), {})]
    if service == "states":
        target = params.get("executionArn") or params.get("stateMachineArn") or "*"
        return [(action, str(target), {})]
    return [(action, resource, {})]


def task_checks(
    service: str, operation: str, params: Mapping[str, Any], region: str, account: str
) -> list[tuple[str, str]]:
    """(IAM action, resource) of a state machine task's call (Step Functions developer guide, "IAM
    policies for integrated services": lambda:InvokeFunction on the function/alias, sns:Publish on the
    topic, states:StartExecution on the state machine)."""
    if service == "lambda" and operation == "Invoke":
        function = str(params["FunctionName"])
        if not function.startswith("arn:"):
            function = f"arn:aws:lambda:{region}:{account}:function:{function}"
        if params.get("Qualifier"):
            function = f"{function}:{params['Qualifier']}"
        return [("lambda:InvokeFunction", function)]
    if service == "sns":
        return [(f"sns:{operation}", str(params.get("TopicArn") or params.get("TargetArn") or "*"))]
    if service == "stepfunctions":
        target = params.get("stateMachineArn") or params.get("executionArn") or "*"
        return [(f"states:{operation}", str(target))]
    prefix = {"dynamodb": "dynamodb", "sqs": "sqs", "events": "events"}.get(service, service)
    return [(f"{prefix}:{operation}", "*")]
