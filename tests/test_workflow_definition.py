"""The POC workflow as Step Functions will run it: the synthesized dev template's `DefinitionString`
resolved into plain ASL (placeholder ARNs shaped like the real ones), then checked for what the design
promises: bounded wait loops, parallel work, retries with jitter, one failure path that notifies, and
only alias invocations. Nested Parallel branches and Map item processors are walked throughout.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cfnlint.api import ManualArgs, lint

from personalize_poc.poc_definition import DEFAULT_POLLING, load_poc_definition
from tests.conftest import SynthesizedApp

ACCOUNT, REGION = "123456789012", "us-east-1"
RETRIED_ERRORS = ("Throttled", "ResourceBusy", "QuotaExceeded")
SNS_PUBLISH = "arn:aws:states:::sns:publish"
# The kinds of the sample POC's workflow. Recommenders, batch segment jobs and the metric attribution are
# in the workflow only when the POC definition has them (the same EnsureAndWait loops; their rehearsals:
# tests/test_rehearsal_ecommerce.py, tests/test_segments_rehearsal.py).
ENSURE_KINDS = set(DEFAULT_POLLING) - {"recommender", "segment_job", "metric_attribution"}


# --- resolving the definition ----------------------------------------------------------------------------


def _resolve(value: Any, resources: dict[str, Any]) -> str:
    """What CloudFormation would put in place of each intrinsic, with placeholder account and names.

    Ref of a Lambda alias is its qualified ARN (`...:function:<name>:live`); GetAtt Arn of a function is
    the unqualified one, so a definition that calls a function directly is told apart from one that
    calls an alias."""
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Fn::Join":
        separator, parts = argument
        return separator.join(_resolve(part, resources) for part in parts)
    if function == "Ref":
        pseudo = {
            "AWS::Partition": "aws",
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::URLSuffix": "amazonaws.com",
        }
        if argument in pseudo:
            return pseudo[argument]
        resource = resources[argument]
        kind = resource["Type"]
        if kind == "AWS::Lambda::Alias":
            function_name = _resolve(resource["Properties"]["FunctionName"], resources)
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}:{resource['Properties']['Name']}"
        if kind == "AWS::SNS::Topic":
            return f"arn:aws:sns:{REGION}:{ACCOUNT}:{argument}"
        # Functions, buckets, parameters: Ref is the name.
        return argument.lower() if kind == "AWS::S3::Bucket" else argument
    if function == "Fn::GetAtt":
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        kind = resources[logical_id]["Type"]
        assert attribute == "Arn", f"unexpected GetAtt {argument}"
        if kind == "AWS::Lambda::Function":
            return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role/{logical_id}"
        return f"arn:aws:{kind.split('::')[1].lower()}:{REGION}:{ACCOUNT}:{logical_id}"
    raise AssertionError(f"no placeholder for {function}")


@dataclass(frozen=True)
class Workflow:
    template: dict[str, Any]
    logical_id: str
    definition: str  # the resolved DefinitionString
    asl: dict[str, Any]

    @property
    def resources(self) -> dict[str, Any]:
        return self.template["Resources"]

    def alias_arn(self, function_id: str) -> str:
        """The resolved ARN of the `live` alias of a step function (by its construct id, e.g. 'Ensure')."""
        (alias,) = [
            lid
            for lid, r in self.resources.items()
            if r["Type"] == "AWS::Lambda::Alias" and lid.startswith(f"Steps{function_id}Live")
        ]
        return _resolve({"Ref": alias}, self.resources)


@pytest.fixture(scope="module")
def workflow(synthesized: SynthesizedApp) -> Workflow:
    env = synthesized.environments["dev"]
    template = json.loads(env.template_path.read_text(encoding="utf-8"))
    (logical_id,) = [
        lid
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
        and "POC config" in json.dumps(r["Properties"]["DefinitionString"])
    ]
    definition = _resolve(template["Resources"][logical_id]["Properties"]["DefinitionString"], template["Resources"])
    return Workflow(template, logical_id, definition, json.loads(definition))


# --- walking the definition ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Located:
    name: str
    state: dict[str, Any]
    scope: dict[str, Any]  # the States object the state lives in
    path: tuple[str, ...]  # names of the enclosing Parallel/Map states, outermost first


def _nested(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The state machines nested in a state: Parallel branches, a Map's item processor."""
    if state["Type"] == "Parallel":
        return list(state["Branches"])
    if state["Type"] == "Map":
        return [state.get("ItemProcessor") or state["Iterator"]]
    return []


def _walk(machine: dict[str, Any], path: tuple[str, ...] = ()) -> Iterator[Located]:
    for name, state in machine["States"].items():
        yield Located(name, state, machine["States"], path)
        for inner in _nested(state):
            yield from _walk(inner, (*path, name))


def _machines(machine: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield machine
    for state in machine["States"].values():
        for inner in _nested(state):
            yield from _machines(inner)


def _successors(state: dict[str, Any]) -> list[str]:
    names = [state.get("Next"), state.get("Default")]
    names += [choice["Next"] for choice in state.get("Choices", [])]
    names += [catcher["Next"] for catcher in state.get("Catch", [])]
    return [name for name in names if name]


def _ensure_kind(state: dict[str, Any]) -> str | None:
    parameters = state.get("Parameters")
    if state["Type"] == "Task" and isinstance(parameters, dict) and parameters.get("kind") in ENSURE_KINDS:
        return str(parameters["kind"])
    return None


def _ensure_tasks(machine: dict[str, Any]) -> dict[str, Located]:
    return {kind: located for located in _walk(machine) if (kind := _ensure_kind(located.state))}


def _kinds_in(machine: dict[str, Any]) -> set[str]:
    return set(_ensure_tasks(machine))


def _lambda_tasks(asl: dict[str, Any]) -> list[Located]:
    return [
        located for located in _walk(asl) if located.state["Type"] == "Task" and ":lambda:" in located.state["Resource"]
    ]


# --- structure --------------------------------------------------------------------------------------------


def test_the_definition_is_json_with_start_and_states(workflow: Workflow) -> None:
    assert workflow.asl["StartAt"] == "POC config"
    assert workflow.asl["States"]["POC config"]["Type"] == "Pass"
    assert isinstance(json.loads(workflow.definition)["States"], dict)


def test_every_transition_stays_inside_its_scope_and_every_state_is_reachable(workflow: Workflow) -> None:
    for machine in _machines(workflow.asl):
        states = machine["States"]
        assert machine["StartAt"] in states
        seen, todo = set(), [machine["StartAt"]]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for successor in _successors(states[name]):
                assert successor in states, f"{name} -> {successor} leaves its scope"
                todo.append(successor)
        assert seen == set(states), f"unreachable: {set(states) - seen}"


def test_every_state_ends_or_moves_on(workflow: Workflow) -> None:
    for located in _walk(workflow.asl):
        state = located.state
        if state["Type"] in ("Choice", "Succeed", "Fail"):
            assert "Next" not in state and "End" not in state, located.name
        else:
            assert ("Next" in state) != bool(state.get("End")), located.name


def test_every_task_passes_an_object(workflow: Workflow) -> None:
    """Step Functions rejects a definition whose Parameters is not an object (e.g. "$.caught")."""
    for located in _walk(workflow.asl):
        if "Parameters" in located.state:
            assert isinstance(located.state["Parameters"], dict), located.name


# --- wait loops -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loop:
    kind: str
    task: Located
    choice: dict[str, Any]
    wait: dict[str, Any]
    ready: dict[str, Any]
    bound: dict[str, Any]


def _loops(asl: dict[str, Any]) -> dict[str, Loop]:
    loops = {}
    for kind, task in _ensure_tasks(asl).items():
        scope, result_path = task.scope, task.state["ResultPath"]
        choice = scope[task.state["Next"]]
        assert choice["Type"] == "Choice", f"{task.name} is not followed by a Choice"
        wait = scope[choice["Default"]]
        assert wait["Type"] == "Wait" and wait["Next"] == task.name, f"{kind}: Default is not Wait -> ensure"
        (ready,) = [c for c in choice["Choices"] if c.get("StringEquals") == "READY"]
        (bound,) = [c for c in choice["Choices"] if "NumericGreaterThanEquals" in c]
        assert ready["Variable"] == f"{result_path}.state"
        # The bound is the time the loop has waited, which Step Functions sums from its own waits.
        assert bound["Variable"] == f"{result_path}.waitedSeconds"
        assert wait["SecondsPath"] == f"{result_path}.waitSeconds", f"{kind}: the wait is not the check's"
        loops[kind] = Loop(kind, task, choice, wait, ready, bound)
    return loops


def test_every_kind_has_one_ensure_and_wait_loop(workflow: Workflow) -> None:
    tasks = [located for located in _walk(workflow.asl) if _ensure_kind(located.state)]
    assert sorted(_ensure_kind(t.state) or "" for t in tasks) == sorted(ENSURE_KINDS)
    assert set(_loops(workflow.asl)) == ENSURE_KINDS


def test_every_wait_belongs_to_a_bounded_loop(workflow: Workflow) -> None:
    """No Wait outside an ensure loop, and each loop ends either READY or in a Fail after its bound."""
    loops = _loops(workflow.asl)
    waits = [located for located in _walk(workflow.asl) if located.state["Type"] == "Wait"]
    assert len(waits) == len(loops)
    for loop in loops.values():
        scope = loop.task.scope
        timed_out = scope[loop.bound["Next"]]
        assert timed_out["Type"] == "Fail"
        # Error and cause come from the last check: which resource, which timeout, what it waited for.
        result_path = loop.task.state["ResultPath"]
        assert (timed_out["ErrorPath"], timed_out["CausePath"]) == (
            f"{result_path}.timeoutError",
            f"{result_path}.timeoutCause",
        )
        assert scope[loop.ready["Next"]]["Type"] != "Fail"
        # READY is checked before the bound: a resource ready on the last check is not a timeout.
        assert loop.choice["Choices"].index(loop.ready) < loop.choice["Choices"].index(loop.bound)


def test_the_attempt_counter_and_the_time_waited_start_at_zero_and_count_each_check(workflow: Workflow) -> None:
    for kind, loop in _loops(workflow.asl).items():
        result_path = loop.task.state["ResultPath"]
        parameters = loop.task.state["Parameters"]
        assert parameters["attempt.$"] == f"States.MathAdd({result_path}.attempt, 1)"
        assert (
            parameters["waitedSeconds.$"] == f"States.MathAdd({result_path}.waitedSeconds, {result_path}.waitSeconds)"
        )
        (start,) = [s for s in loop.task.scope.values() if s.get("Next") == loop.task.name and s["Type"] == "Pass"]
        # The campaign loop also starts its carried promotion decision at "none" (ensure.ensure_campaign).
        carried = {"promotion": {"decision": "none"}} if kind == "campaign" else {}
        assert (start["Result"], start["ResultPath"]) == (
            {"attempt": 0, "waitedSeconds": 0, "waitSeconds": 0, **carried},
            result_path,
        )
        if kind == "campaign":
            assert parameters["refs"]["promotion.$"] == f"{result_path}.promotion"


def test_wait_seconds_and_bounds_are_the_configured_polling(workflow: Workflow, synthesized: SynthesizedApp) -> None:
    settings = synthesized.environments["dev"].settings
    poc = load_poc_definition(settings.poc_config_path, settings.name_prefix)
    assert poc.polling == {}, "the sample sets no polling overrides, so the defaults apply"
    for kind, loop in _loops(workflow.asl).items():
        polling = DEFAULT_POLLING[kind]
        assert loop.task.state["Parameters"]["polling"] == {
            "intervalSeconds": polling.interval_seconds,
            "timeoutSeconds": polling.timeout_minutes * 60,
        }, kind
        assert loop.bound["NumericGreaterThanEquals"] == polling.timeout_minutes * 60, kind


# --- parallel work ----------------------------------------------------------------------------------------


def _find(asl: dict[str, Any], predicate: Any) -> list[Located]:
    return [located for located in _walk(asl) if predicate(located)]


def test_each_collection_is_a_map_that_runs_its_items_side_by_side(workflow: Workflow) -> None:
    expected = {
        "dataset": "$.config.datasets",
        "import_job": "$.datasets",
        "solution": "$.config.solutions",
        "campaign": "$.spec.campaigns",
        "batch_job": "$.spec.batchJobs",
        "filter": "$.config.filters",
    }
    maps = _find(workflow.asl, lambda located: located.state["Type"] == "Map")
    assert len(maps) == len(expected)
    for kind, items_path in expected.items():
        (found,) = [m for m in maps if kind in _processor_kinds(m.state)]
        assert found.state["ItemsPath"] == items_path, kind
        assert found.state.get("MaxConcurrency", 0) != 1, f"{kind}: items run one at a time"


def _processor_kinds(map_state: dict[str, Any]) -> set[str]:
    """Kinds ensured directly in a Map's item processor (not in a nested Map)."""
    processor = map_state.get("ItemProcessor") or map_state["Iterator"]
    return {kind for state in processor["States"].values() if (kind := _ensure_kind(state))}


def test_training_filters_and_the_event_tracker_run_side_by_side(workflow: Workflow) -> None:
    parallels = _find(
        workflow.asl,
        lambda located: (
            located.state["Type"] == "Parallel"
            and [_kinds_in(branch) for branch in located.state["Branches"]]
            == [
                {"import_job", "solution", "solution_version", "campaign", "batch_job"},
                {"filter"},
                {"event_tracker"},
            ]
        ),
    )
    assert len(parallels) == 1, "no Parallel with branches [imports -> solutions], [filters], [event tracker]"
    (parallel,) = parallels
    imports_then_solutions = parallel.state["Branches"][0]
    first = imports_then_solutions["States"][imports_then_solutions["StartAt"]]
    assert first["Type"] == "Map" and _processor_kinds(first) == {"import_job"}
    second = imports_then_solutions["States"][first["Next"]]
    assert second["Type"] == "Map" and _processor_kinds(second) == {"solution", "solution_version"}
    # It starts once the datasets exist, which need the dataset group.
    (before,) = [s for s in parallel.scope.values() if s.get("Next") == parallel.name]
    assert before["Type"] == "Map" and _processor_kinds(before) == {"dataset"}


def test_campaigns_and_batch_jobs_of_a_solution_deploy_side_by_side(workflow: Workflow) -> None:
    parallels = _find(
        workflow.asl,
        lambda located: (
            located.state["Type"] == "Parallel"
            and [_kinds_in(branch) for branch in located.state["Branches"]] == [{"campaign"}, {"batch_job"}]
        ),
    )
    assert len(parallels) == 1
    # After training, inside the per-solution Map.
    (parallel,) = parallels
    (training,) = [s for s in parallel.scope.values() if s.get("Next") == parallel.name]
    assert (
        training["Type"] == "Pass"
        and _ensure_kind(parallel.scope[_start_of_loop(parallel.scope, training)]) == "solution_version"
    )


def _start_of_loop(scope: dict[str, Any], ready: dict[str, Any]) -> str:
    """The ensure task whose Choice leads to the given 'ready' Pass state."""
    for name, state in scope.items():
        if state["Type"] == "Task" and scope[state["Next"]]["Type"] == "Choice":
            choices = scope[state["Next"]]["Choices"]
            if any(scope[c["Next"]] is ready for c in choices):
                return name
    raise AssertionError("no loop leads here")


# --- retries ----------------------------------------------------------------------------------------------


def test_step_tasks_retry_throttling_busy_and_quota_with_full_jitter(workflow: Workflow) -> None:
    """Quotas are retried by the one-shot steps; a wait loop waits for a quota in its own Wait state
    (the ensure handler reports it as one more check), so its task has no quota Retry to hide it in."""
    step_functions = {workflow.alias_arn(name) for name in ("Ensure", "Guard", "Validate", "Report")}
    tasks = [t for t in _lambda_tasks(workflow.asl) if t.state["Resource"] in step_functions]
    assert len(tasks) == len(ENSURE_KINDS) + 3
    for task in tasks:
        retriers = task.state.get("Retry", [])
        in_loop = _ensure_kind(task.state) is not None
        assert in_loop == (not any("QuotaExceeded" in r["ErrorEquals"] for r in retriers)), task.name
        for error in RETRIED_ERRORS if not in_loop else ("Throttled", "ResourceBusy"):
            matching = [r for r in retriers if error in r["ErrorEquals"]]
            assert matching, f"{task.name} does not retry {error}"
            (retrier,) = matching
            assert retrier["JitterStrategy"] == "FULL", task.name
            assert retrier["BackoffRate"] > 1, task.name
            assert retrier["MaxAttempts"] >= 1, task.name
            assert retrier["IntervalSeconds"] >= 1, task.name


def test_real_failures_are_never_retried(workflow: Workflow) -> None:
    """A failed resource or a config conflict ends the run at once, with its reason."""
    for located in _walk(workflow.asl):
        for retrier in located.state.get("Retry", []):
            assert not {
                "States.ALL",
                "States.TaskFailed",
                "ResourceFailed",
                "ConfigConflict",
                "WaitTimedOut",
            } & set(retrier["ErrorEquals"]), located.name


# --- failure path -----------------------------------------------------------------------------------------


def test_a_top_level_catch_notifies_and_fails_with_the_reason(workflow: Workflow) -> None:
    top = workflow.asl["States"]
    caught = [
        (name, state, c)
        for name, state in top.items()
        for c in state.get("Catch", [])
        if c["ErrorEquals"] == ["States.ALL"]
    ]
    assert len(caught) == 1
    name, guarded, catcher = caught[0]

    chain, current = [], catcher["Next"]
    while current:
        chain.append(top[current])
        current = top[current].get("Next")
    describe, notify, fail = chain
    assert describe["Resource"] == workflow.alias_arn("Failure")
    # The describer reads what the Catch stored, and writes what the notification and Fail read.
    assert any(str(v).startswith(catcher["ResultPath"]) for v in describe["Parameters"].values())
    assert notify["Resource"] == SNS_PUBLISH
    assert notify["Parameters"]["Message.$"].startswith(describe["ResultPath"])
    assert notify["Parameters"]["Subject.$"].startswith(describe["ResultPath"])
    assert fail["Type"] == "Fail"
    assert fail["ErrorPath"].startswith(describe["ResultPath"])
    assert fail["CausePath"].startswith(describe["ResultPath"])

    # Everything that builds resources, and every timeout, is inside the guarded state.
    for located in _walk(workflow.asl):
        if _ensure_kind(located.state) or (located.state["Type"] == "Fail" and located.state is not fail):
            assert located.path[:1] == (name,), f"{located.name} fails without a notification"
    assert guarded["Type"] == "Parallel"


def test_every_lambda_task_invokes_the_live_alias(workflow: Workflow) -> None:
    tasks = _lambda_tasks(workflow.asl)
    assert tasks
    for task in tasks:
        resource = task.state["Resource"]
        if resource.startswith("arn:aws:states:::lambda:invoke"):
            resource = task.state["Parameters"]["FunctionName"]
        assert resource.startswith(f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"), task.name
        assert resource.endswith(":live"), f"{task.name} invokes {resource}, not an alias"


def test_the_alias_check_can_tell_a_bare_function(workflow: Workflow) -> None:
    """Guards the test above: a function's own ARN resolves without the alias qualifier."""
    (function,) = [
        lid
        for lid, r in workflow.resources.items()
        if r["Type"] == "AWS::Lambda::Function" and lid.startswith("StepsEnsureFunction")
    ]
    assert not _resolve({"Fn::GetAtt": [function, "Arn"]}, workflow.resources).endswith(":live")


# --- cfn-lint ---------------------------------------------------------------------------------------------


def _lint_definition(workflow: Workflow, definition: str) -> list[str]:
    """cfn-lint on a copy of the state machine resource with a plain-string definition (E3601 checks
    only those); the other resources are not needed for the definition rule and are linted elsewhere."""
    machine = copy.deepcopy(workflow.resources[workflow.logical_id])
    machine["Properties"]["DefinitionString"] = definition
    machine.pop("DependsOn", None)
    template = {"Resources": {workflow.logical_id: machine}}
    matches = lint(json.dumps(template), config=ManualArgs(regions=[REGION]))
    # E1101: an exception inside a rule means the definition was not really checked.
    return [f"{m.rule.id} {m.message}" for m in matches if m.rule.id in ("E3601", "E1101")]


def test_the_resolved_definition_passes_cfn_lint_state_machine_checks(workflow: Workflow) -> None:
    findings = _lint_definition(workflow, workflow.definition)
    assert not findings, "\n".join(findings)


def test_cfn_lint_does_check_the_resolved_definition(workflow: Workflow) -> None:
    broken = copy.deepcopy(workflow.asl)
    broken["States"]["POC config"]["Type"] = "Bogus"
    assert any("Bogus" in finding for finding in _lint_definition(workflow, json.dumps(broken)))


def test_every_wait_loop_gives_up_before_the_execution_times_out(workflow: Workflow) -> None:
    """An execution timeout cannot be caught, so nobody would be notified: the loops on the critical
    path (group -> dataset -> import -> solution -> training -> the longer of campaign and batch job)
    must all be able to reach their own bound, which the Catch turns into a notification."""
    loops = _loops(workflow.asl)

    def longest(kind: str) -> int:
        return int(loops[kind].bound["NumericGreaterThanEquals"])  # seconds waited before the Fail

    critical_path = sum(
        longest(k) for k in ("dataset_group", "dataset", "import_job", "solution", "solution_version")
    ) + max(longest("campaign"), longest("batch_job"))
    assert critical_path < workflow.asl["TimeoutSeconds"]


def test_every_teardown_level_gives_up_before_the_teardown_times_out(synthesized: SynthesizedApp) -> None:
    """The levels run one after another; each can reach its own bound (a notified failure) before the
    execution's timeout, which nothing catches."""
    env = synthesized.environments["dev"]
    template = json.loads(env.template_path.read_text(encoding="utf-8"))
    (machine,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::StepFunctions::StateMachine"
        and "Teardown config" in json.dumps(r["Properties"]["DefinitionString"])
    ]
    asl = json.loads(_resolve(machine["Properties"]["DefinitionString"], template["Resources"]))
    bounds = [
        choice["NumericGreaterThanEquals"]
        for located in _walk(asl)
        if located.state["Type"] == "Choice"
        for choice in located.state["Choices"]
        if "NumericGreaterThanEquals" in choice
    ]
    assert len(bounds) == 8  # one per level
    assert sum(bounds) < asl["TimeoutSeconds"]
