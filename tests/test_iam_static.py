"""Without running anything: every AWS call a function's code can make is allowed by that function's
synthesized role, and its role holds no action that no code path of the function uses (issue 9).

How calls are found (AST of lambdas/poc_steps, per function): from the function's handler, follow the
calls it can make (module functions, imported names, methods of the package's classes by name, and
functions named in module-level tables the code reads). In everything reachable:

* a service is in scope where ``boto3.client("<service>")`` is called;
* a string constant or an attribute name that is a botocore operation of a service in scope (snake
  case: ``list_dataset_groups``, ``put_object``, the name given to ``get_paginator``) is a call of that
  operation;
* a Personalize kind passed to the adapter (``adapter.find("campaign", ...)``) is a call of the kind's
  List operation (``find``/``list_all``) or Describe operation (``describe``), from the adapter's tables.

The ensure function runs ``ENSURE[kind]`` (lambdas/poc_steps/ensure.py) for the kind each workflow task
passes it, and its role holds the actions of those kinds only (a POC without recommenders, segment jobs
or an attribution gets none of theirs: constructs/personalize_access.py). So for a function the
workflow invokes with ``kind`` parameters, only the ENSURE entries of the kinds in the synthesized
workflow are followed, and the check runs on templates of POCs that have each optional kind
(tests/test_iam_per_poc.py) as well as on the dev sample's.

Operations map to IAM actions by botocore's names (``<signing name>:<OperationName>``; Service
Authorization Reference), except where S3 names its actions differently (HeadObject is s3:GetObject,
ListObjectsV2 s3:ListBucket: "Actions, resources, and condition keys for Amazon S3"). Implied actions:
``iam:PassRole`` for a Personalize Create* that passes ``roleArn``, ``personalize:TagResource`` for a
Create* with ``tags`` (both listed beside those actions in the Personalize reference). Not checked here:
``logs:*``/``xray:*`` (the Lambda runtime's), ``kms:*`` (implied by encryption; the rehearsal checks
them), and resources (the rehearsal evaluates each call's resource under IAM).
"""

from __future__ import annotations

import ast
import functools
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from tests.conftest import PROJECT_ROOT, SynthesizedApp, as_list, render
from tests.rehearsal.iam import wildcard_match

PACKAGE = PROJECT_ROOT / "lambdas" / "poc_steps"
PACKAGE_NAME = "poc_steps"
#: botocore service name -> IAM service prefix (the model's signingName).
SERVICES = ("personalize", "s3", "ssm", "stepfunctions", "sns", "sts", "cloudwatch")
#: IAM prefixes that differ from the model's signing name (CloudWatch's model signs as "monitoring";
#: Service Authorization Reference: Amazon CloudWatch actions are cloudwatch:*).
IAM_PREFIXES = {"cloudwatch": "cloudwatch"}
#: S3 operations whose IAM action has another name (S3 actions reference).
S3_ACTIONS = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket", "ListObjects": "ListBucket"}
PASS_ROLE_CREATES = {"CreateDatasetGroup", "CreateDatasetImportJob", "CreateBatchInferenceJob"}
#: Granted for the runtime or for encryption, not for a call in the code (see the module docstring).
NOT_FROM_CODE = ("logs:", "xray:", "kms:")
ADAPTER_TABLES = {"find": "LISTINGS", "list_all": "LISTINGS", "describe": "DESCRIPTIONS"}
#: The table the ensure handler dispatches on by the event's ``kind`` (other handlers' ``kind``, such as
#: the teardown's levels, choose no code path this check follows).
ENSURE_HANDLER = f"{PACKAGE_NAME}.handlers.ensure_handler"
KIND_DISPATCH = f"{PACKAGE_NAME}.ensure.ENSURE"


# --------------------------------------------------------------------------------------------------
# botocore: operations per service
# --------------------------------------------------------------------------------------------------
@functools.cache
def operations() -> dict[str, dict[str, str]]:
    """service -> {snake_case operation: IAM action}."""
    session = botocore.session.get_session()
    found: dict[str, dict[str, str]] = {}
    for service in SERVICES:
        model = session.get_service_model(service)
        prefix = IAM_PREFIXES.get(service) or model.metadata.get("signingName") or model.endpoint_prefix
        found[service] = {
            xform_name(name): f"{prefix}:{S3_ACTIONS.get(name, name) if service == 's3' else name}"
            for name in model.operation_names
        }
    return found


# --------------------------------------------------------------------------------------------------
# The package's call graph
# --------------------------------------------------------------------------------------------------
@dataclass
class Function:
    qualname: str  # module.func or module.Class.method
    node: ast.AST
    module: str
    calls: set[str] = field(default_factory=set)  # names as written (resolved later)
    strings: set[str] = field(default_factory=set)
    attributes: set[str] = field(default_factory=set)
    clients: set[str] = field(default_factory=set)
    kinds: list[tuple[str, str]] = field(default_factory=list)  # (adapter method, kind)


@dataclass
class Package:
    functions: dict[str, Function] = field(default_factory=dict)
    module_tables: dict[str, ast.AST] = field(default_factory=dict)  # module.NAME -> value
    imports: dict[str, dict[str, str]] = field(default_factory=dict)  # module -> local name -> target
    methods: dict[str, set[str]] = field(default_factory=dict)  # method name -> qualnames


def _scan_body(function: Function, body: Iterable[ast.AST]) -> None:
    for node in body:
        for child in ast.walk(node):
            if isinstance(child, ast.Constant) and isinstance(child.value, str):
                function.strings.add(child.value)
            elif isinstance(child, ast.Name):
                function.calls.add(child.id)
            elif isinstance(child, ast.Attribute):
                function.attributes.add(child.attr)
                if isinstance(child.value, ast.Name):
                    function.calls.add(f"{child.value.id}.{child.attr}")
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                first = child.args[0] if child.args else None
                literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
                if child.func.attr == "client" and literal:
                    function.clients.add(literal)
                if child.func.attr in ADAPTER_TABLES and literal:
                    function.kinds.append((child.func.attr, literal))
            if isinstance(child, ast.Call):
                # A kind handed by keyword to a helper that finds and describes it (ensure.ensure_version_job).
                for keyword in child.keywords:
                    if keyword.arg == "kind" and isinstance(keyword.value, ast.Constant):
                        function.kinds += [("find", keyword.value.value), ("describe", keyword.value.value)]


def load_package(root: Path = PACKAGE) -> Package:
    package = Package()
    for path in sorted(root.glob("*.py")):
        module = f"{PACKAGE_NAME}.{path.stem}"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports: dict[str, str] = {}
        # Imports inside functions too (a module that builds on this one, imported where it is called).
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE_NAME):
                for alias in node.names:
                    target = (
                        f"{node.module}.{alias.name}" if node.module != PACKAGE_NAME else f"{PACKAGE_NAME}.{alias.name}"
                    )
                    imports[alias.asname or alias.name] = target
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                function = Function(f"{module}.{node.name}", node, module)
                _scan_body(function, node.body + node.decorator_list)
                package.functions[function.qualname] = function
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                        function = Function(f"{module}.{node.name}.{item.name}", item, module)
                        _scan_body(function, item.body)
                        package.functions[function.qualname] = function
                        package.methods.setdefault(item.name, set()).add(function.qualname)
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        package.module_tables[f"{module}.{target.id}"] = node.value
        package.imports[module] = imports
    return package


def _resolve(package: Package, module: str, name: str) -> set[str]:
    """Qualified names a name in ``module`` may refer to: functions, a class's __init__, tables;
    ``obj.method`` may be any of the package's methods of that name."""
    imports = package.imports.get(module, {})
    head, _, attribute = name.partition(".")
    found: set[str] = set()

    def add(qualname: str) -> None:
        if qualname in package.functions or qualname in package.module_tables:
            found.add(qualname)
        if f"{qualname}.__init__" in package.functions:  # instantiating a class runs __init__
            found.add(f"{qualname}.__init__")

    if attribute:
        if head in imports:  # module.func (from poc_steps import ensure)
            add(f"{imports[head]}.{attribute}")
        return found | package.methods.get(attribute, set())
    add(f"{module}.{name}")
    if name in imports:
        add(imports[name])
    return found


@dataclass
class Reach:
    functions: set[str]
    strings: set[str]
    attributes: set[str]
    clients: set[str]
    kinds: list[tuple[str, str]]


def _dispatch_only(table: ast.AST, kinds: Iterable[str]) -> ast.AST:
    """KIND_DISPATCH with only the entries of ``kinds``: what the handler can run for those kinds."""
    assert isinstance(table, ast.Dict), "ENSURE is a dict literal of kind -> function"
    wanted = set(kinds)
    pairs = [
        (key, value)
        for key, value in zip(table.keys, table.values, strict=True)
        if isinstance(key, ast.Constant) and key.value in wanted
    ]
    return ast.Dict(keys=[k for k, _ in pairs], values=[v for _, v in pairs])


def reachable(package: Package, root: str, dispatched: Iterable[str] | None = None) -> Reach:
    """Everything ``root`` can reach; with ``dispatched`` kinds, through KIND_DISPATCH's entries of those
    kinds only."""
    seen: set[str] = set()
    tables: set[str] = set()
    stack = [root]
    strings: set[str] = set()
    attributes: set[str] = set()
    clients: set[str] = set()
    kinds: list[tuple[str, str]] = []
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in package.module_tables:
            tables.add(name)
            module = name.rsplit(".", 1)[0]
            value = package.module_tables[name]
            if name == KIND_DISPATCH and dispatched is not None:
                value = _dispatch_only(value, dispatched)
            holder = Function(name, value, module)
            _scan_body(holder, [value])
            if name.rsplit(".", 1)[-1] not in ADAPTER_TABLES.values():  # read through find/describe only
                strings |= holder.strings
            stack.extend(q for n in holder.calls for q in _resolve(package, module, n))
            continue
        function = package.functions.get(name)
        if function is None:
            continue
        strings |= function.strings
        attributes |= function.attributes
        clients |= function.clients
        kinds += function.kinds
        stack.extend(q for n in function.calls for q in _resolve(package, function.module, n))
    return Reach(seen, strings, attributes, clients, kinds)


def actions_used(package: Package, handler: str, kinds: Iterable[str] | None = None) -> set[str]:
    """IAM actions the code reachable from ``handler`` (``poc_steps.handlers.ensure_handler``) can use;
    with ``kinds``, when it is asked for those kinds only (KIND_DISPATCH)."""
    reach = reachable(package, handler, kinds)
    ops = operations()
    used: set[str] = set()
    for service in reach.clients & set(ops):
        for name in reach.strings | reach.attributes:
            if name in ops[service]:
                used.add(ops[service][name])
    if "personalize" in reach.clients:
        tables = {
            t: ast.literal_eval(package.module_tables[f"{PACKAGE_NAME}.adapter.{t}"])
            for t in set(ADAPTER_TABLES.values())
        }
        for method, kind in reach.kinds:
            table = tables[ADAPTER_TABLES[method]]
            if kind in table:
                used.add(ops["personalize"][table[kind][0]])
        # A kind handed to a helper that lists it (ensure's job runs): any kind literal the code holds
        # counts as listed. Describe is always called with a literal kind.
        if "list_all" in reach.attributes:
            for kind in reach.strings & set(tables["LISTINGS"]):
                used.add(ops["personalize"][tables["LISTINGS"][kind][0]])
    if "s3:GetObject" in used:
        # Reading an object that is missing answers 404 only with s3:ListBucket, 403 without (S3 API
        # reference, HeadObject and GetObject, "Permissions"); the code tells the two apart.
        used.add("s3:ListBucket")
    creates = {a.split(":", 1)[1] for a in used if a.startswith("personalize:Create")}
    if creates & PASS_ROLE_CREATES:
        used.add("iam:PassRole")
    if creates:
        used.add("personalize:TagResource")
    return used


# --------------------------------------------------------------------------------------------------
# The synthesized roles
# --------------------------------------------------------------------------------------------------
def function_roles(template: Mapping[str, Any]) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    """Function logical id -> (handler, Allow statements of its role)."""
    resources = template["Resources"]
    statements: dict[str, list[dict[str, Any]]] = {}
    for lid, res in resources.items():
        if res["Type"] == "AWS::IAM::Role":
            for policy in res["Properties"].get("Policies", []):
                statements.setdefault(lid, []).extend(as_list(policy["PolicyDocument"]["Statement"]))
        elif res["Type"] == "AWS::IAM::Policy":
            for role in res["Properties"].get("Roles", []):
                statements.setdefault(role["Ref"], []).extend(as_list(res["Properties"]["PolicyDocument"]["Statement"]))
    found = {}
    for lid, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Lambda::Function" and str(props.get("Handler", "")).startswith(PACKAGE_NAME):
            role = props["Role"]["Fn::GetAtt"][0]
            allowed = [s for s in statements.get(role, []) if s.get("Effect") == "Allow"]
            found[lid] = (str(props["Handler"]), allowed)
    return found


def kinds_invoked(template: Mapping[str, Any]) -> dict[str, set[str]]:
    """Function logical id -> the ``kind`` values the template's state machines invoke it with (a task's
    Resource is the function's alias or the function itself)."""
    resources = template["Resources"]
    found: dict[str, set[str]] = {}

    def function_of(resource: str) -> str:
        lid = resource.strip("<>").split(".", 1)[0]
        if resources.get(lid, {}).get("Type") == "AWS::Lambda::Alias":
            return str(resources[lid]["Properties"]["FunctionName"]["Ref"])
        return lid

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            kind = (node.get("Parameters") or {}).get("kind") if node.get("Type") == "Task" else None
            if isinstance(kind, str):
                found.setdefault(function_of(str(node["Resource"])), set()).add(kind)
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    for resource in resources.values():
        if resource["Type"] == "AWS::StepFunctions::StateMachine":
            walk(json.loads(render(resource["Properties"]["DefinitionString"])))
    return found


def granted_actions(statements: Iterable[Mapping[str, Any]]) -> set[str]:
    return {a for s in statements for a in as_list(s.get("Action", []))}


def findings(
    package: Package,
    roles: Mapping[str, tuple[str, list[dict[str, Any]]]],
    kinds: Mapping[str, set[str]] | None = None,
) -> list[str]:
    """One line per problem: a call its role does not allow, or a grant nothing uses. ``kinds``
    (kinds_invoked): a function invoked with kinds is judged on the code of those kinds only."""
    problems = []
    for lid, (handler, statements) in sorted(roles.items()):
        used = actions_used(package, handler, (kinds or {}).get(lid) if handler == ENSURE_HANDLER else None)
        granted = granted_actions(statements)
        for action in sorted(used):
            if not any(wildcard_match(g, action, ignore_case=True) for g in granted):
                problems.append(f"{lid} ({handler}): the code calls {action}, its role does not allow it")
        for grant in sorted(granted):
            if grant.startswith(NOT_FROM_CODE):
                continue
            if not any(wildcard_match(grant, action, ignore_case=True) for action in used):
                problems.append(f"{lid} ({handler}): its role holds {grant}, which no code path uses")
    return problems


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def package() -> Package:
    return load_package()


@pytest.fixture(scope="module")
def dev_roles(synthesized: SynthesizedApp) -> dict[str, tuple[str, list[dict[str, Any]]]]:
    return function_roles(synthesized.environments["dev"].template_json)


@pytest.fixture(scope="module")
def dev_kinds(synthesized: SynthesizedApp) -> dict[str, set[str]]:
    return kinds_invoked(synthesized.environments["dev"].template_json)


def test_every_call_is_allowed_and_every_grant_is_used(package: Package, dev_roles: Any, dev_kinds: Any) -> None:
    assert len(dev_roles) >= 6, "ensure, guard, validate, report, failure, teardown (and the trigger's)"
    problems = findings(package, dev_roles, dev_kinds)
    assert not problems, "\n".join(problems)


def test_the_ensure_function_is_judged_on_the_kinds_the_dev_workflow_asks_for(dev_roles: Any, dev_kinds: Any) -> None:
    """The dev sample (a custom dataset group) asks for no recommender, segment job or attribution."""
    (ensure,) = [lid for lid, (handler, _) in dev_roles.items() if handler == ENSURE_HANDLER]
    assert dev_kinds[ensure] == {
        "dataset_group",
        "dataset",
        "import_job",
        "solution",
        "solution_version",
        "campaign",
        "filter",
        "event_tracker",
        "batch_job",
    }


def test_a_grant_for_a_kind_the_workflow_never_asks_for_is_caught(
    package: Package, dev_roles: Any, dev_kinds: Any
) -> None:
    """The dev ensure role given the recommender actions back: held, but no code path of its POC uses them."""
    (ensure,) = [lid for lid, (handler, _) in dev_roles.items() if handler == ENSURE_HANDLER]
    handler, statements = dev_roles[ensure]
    extra = {"Effect": "Allow", "Action": ["personalize:CreateRecommender", "personalize:ListRecommenders"]}
    problems = findings(package, {**dev_roles, ensure: (handler, [*statements, extra])}, dev_kinds)
    assert any("holds personalize:CreateRecommender, which no code path uses" in p for p in problems), problems
    assert any("holds personalize:ListRecommenders, which no code path uses" in p for p in problems), problems


def test_the_calls_are_found_per_function(package: Package) -> None:
    """The finder sees what each handler really calls (guards it against finding nothing)."""
    ensure = actions_used(package, "poc_steps.handlers.ensure_handler")
    assert {
        "personalize:ListDatasetGroups",
        "personalize:CreateCampaign",
        "personalize:UpdateCampaign",
        "personalize:DescribeBatchInferenceJob",
        "s3:GetObject",  # head_object of the import file
        "iam:PassRole",
    } <= ensure
    assert "ssm:PutParameter" not in ensure
    report = actions_used(package, "poc_steps.handlers.report_handler")
    assert {"personalize:GetSolutionMetrics", "s3:PutObject", "ssm:PutParameter"} <= report
    assert not any(a.startswith("personalize:Create") for a in report)
    guard = actions_used(package, "poc_steps.handlers.guard_handler")
    assert {"states:ListExecutions", "states:DescribeExecution"} <= guard


def test_a_removed_grant_is_caught(package: Package, dev_roles: Any, dev_kinds: Any) -> None:
    """personalize:UpdateCampaign taken out of the ensure role: the check names the call it breaks."""
    narrowed = {
        lid: (
            handler,
            [
                {**s, "Action": [a for a in as_list(s["Action"]) if a != "personalize:UpdateCampaign"]}
                for s in statements
            ],
        )
        for lid, (handler, statements) in dev_roles.items()
    }
    problems = findings(package, narrowed, dev_kinds)
    assert any("calls personalize:UpdateCampaign, its role does not allow it" in p for p in problems), problems


def test_an_unused_grant_is_caught(package: Package, dev_roles: Any, dev_kinds: Any) -> None:
    (guard,) = [lid for lid, (handler, _) in dev_roles.items() if handler == "poc_steps.handlers.guard_handler"]
    handler, statements = dev_roles[guard]
    widened = {**dev_roles, guard: (handler, [*statements, {"Effect": "Allow", "Action": "states:StartExecution"}])}
    problems = findings(package, widened, dev_kinds)
    assert any("holds states:StartExecution, which no code path uses" in p for p in problems), problems
