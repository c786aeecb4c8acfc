"""`make plan-diff`: what a change of the POC definition changes, field by field, and which resources.

Compares the plan the workflow carries (the "POC config" state's Result in the synthesized state machine)
between two templates: the working tree's, freshly synthesized, and the deployed stack's (AWS
CloudFormation GetTemplate, when credentials are available) or else the last synthesized one in
cdk.out. Prints one line per changed field, named by the campaign/solution/dataset/filter it belongs to,
then the resources whose template changed, and says whether any Lambda version is replaced.

    python -m personalize_poc.plan_diff dev --new-assembly <dir> [--old-assembly cdk.out] [--offline]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from personalize_poc.settings import SettingsError, load_environment

CONFIG_STATE = "POC config"
# Lists of the plan whose items are told apart by these keys (the first one present).
ITEM_KEYS = ("label", "name", "datasetType")


class PlanDiffError(Exception):
    """One line a user can act on."""


# --- reading a template ----------------------------------------------------------------------------------


def resolve(value: Any) -> str:
    """A DefinitionString with every intrinsic replaced by a stable placeholder (`<Ref X>`)."""
    if isinstance(value, str):
        return value
    ((function, argument),) = value.items()
    if function == "Fn::Join":
        separator, parts = argument
        return str(separator).join(resolve(part) for part in parts)
    if function == "Ref":
        return f"<Ref {argument}>"
    if function == "Fn::GetAtt":
        target = argument if isinstance(argument, str) else ".".join(argument)
        return f"<GetAtt {target}>"
    raise PlanDiffError(f"cannot read {function} in a state machine definition")


def plan_from_template(template: Mapping[str, Any]) -> dict[str, Any]:
    """The plan of the POC workflow in a synthesized (or deployed) template."""
    for resource in template.get("Resources", {}).values():
        if resource.get("Type") != "AWS::StepFunctions::StateMachine":
            continue
        definition = json.loads(resolve(resource["Properties"]["DefinitionString"]))
        state = definition.get("States", {}).get(CONFIG_STATE)
        if state is not None:
            return dict(state["Result"])
    raise PlanDiffError(f"no state machine with a '{CONFIG_STATE}' state in the template")


# --- comparing -------------------------------------------------------------------------------------------


def _item_key(item: Any) -> str | None:
    if isinstance(item, Mapping):
        for key in ITEM_KEYS:
            if isinstance(item.get(key), str):
                return str(item[key])
    return None


def _keyed(items: list[Any]) -> dict[str, Any] | None:
    keys = [_item_key(item) for item in items]
    if None in keys or len(set(keys)) != len(keys):
        return None
    return dict(zip([str(k) for k in keys], items, strict=True))


def _show(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def diff_values(old: Any, new: Any, path: str = "") -> Iterator[str]:
    """One line per changed field: `~ path: old -> new`, `+ path: value`, `- path: value`."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        for key in list(old) + [k for k in new if k not in old]:
            child = f"{path}.{key}" if path else str(key)
            if key not in new:
                yield f"- {child}: {_show(old[key])}"
            elif key not in old:
                yield f"+ {child}: {_show(new[key])}"
            else:
                yield from diff_values(old[key], new[key], child)
        return
    if isinstance(old, list) and isinstance(new, list):
        old_keyed, new_keyed = _keyed(old), _keyed(new)
        if old_keyed is not None and new_keyed is not None:
            for key in list(old_keyed) + [k for k in new_keyed if k not in old_keyed]:
                child = f"{path}[{key}]"
                if key not in new_keyed:
                    yield f"- {child}"
                elif key not in old_keyed:
                    yield f"+ {child}: {_show(new_keyed[key])}"
                else:
                    yield from diff_values(old_keyed[key], new_keyed[key], child)
            return
    if old != new:
        yield f"~ {path}: {_show(old)} -> {_show(new)}"


def changed_resources(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """`~ Type LogicalId: Property, ...` for each changed resource; `+`/`-` for added/removed ones."""
    old_resources, new_resources = _deployed_parts(old), _deployed_parts(new)
    lines = []
    for logical_id in sorted(set(old_resources) | set(new_resources)):
        before, after = old_resources.get(logical_id), new_resources.get(logical_id)
        if before == after:
            continue
        kind = str((after if after is not None else before or {}).get("Type"))
        if before is None:
            lines.append(f"+ {kind} {logical_id}")
        elif after is None:
            lines.append(f"- {kind} {logical_id}")
        else:
            props_before, props_after = before.get("Properties", {}), after.get("Properties", {})
            names = sorted(p for p in set(props_before) | set(props_after) if props_before.get(p) != props_after.get(p))
            lines.append(f"~ {kind} {logical_id}: {', '.join(names) or '(resource options)'}")
    return lines


def _deployed_parts(template: Mapping[str, Any]) -> dict[str, Any]:
    """Resources without their Metadata: CDK's `aws:cdk:path` (written by `cdk synth`, not by `python
    app.py`) and cdk-nag's acknowledgements change no deployed resource, nor does CDK's version report
    (AWS::CDK::Metadata, added by the CLI only)."""
    return {
        logical_id: {key: value for key, value in resource.items() if key != "Metadata"}
        for logical_id, resource in template.get("Resources", {}).items()
        if resource.get("Type") != "AWS::CDK::Metadata"
    }


def report(old: Mapping[str, Any], new: Mapping[str, Any], *, old_label: str) -> list[str]:
    fields = list(diff_values(plan_from_template(old), plan_from_template(new)))
    resources = changed_resources(old, new)
    versions = [line for line in resources if "AWS::Lambda::Version" in line]
    lines = [f"POC definition, working tree against {old_label}:"]
    lines += [f"  {line}" for line in fields] or ["  (no change)"]
    lines.append(f"Resources changed ({len(resources)}):")
    lines += [f"  {line}" for line in resources] or ["  (none)"]
    lines.append(f"Lambda versions replaced: {len(versions)}" if versions else "Lambda versions replaced: none")
    return lines


# --- where the templates come from ---------------------------------------------------------------------


def assembly_template(assembly: Path, environment: str) -> dict[str, Any]:
    """The one stack template of the environment's Stage in a cloud assembly (cdk.out)."""
    templates = sorted((assembly / f"assembly-{environment}").glob("*.template.json"))
    if len(templates) != 1:
        raise PlanDiffError(
            f"no synthesized template for '{environment}' in {assembly} (run `make synth` first)"
            if not templates
            else f"{len(templates)} templates for '{environment}' in {assembly}; expected one"
        )
    return dict(json.loads(templates[0].read_text(encoding="utf-8")))


def deployed_template(stack_name: str, region: str | None) -> dict[str, Any] | None:
    """The deployed stack's template (CloudFormation GetTemplate, the original template), or None when
    there are no credentials."""
    import boto3
    import botocore.exceptions

    session = boto3.Session(region_name=region)
    if session.get_credentials() is None:
        return None
    try:
        # botocore model cloudformation GetTemplate: TemplateStage Original|Processed; TemplateBody.
        body = session.client("cloudformation").get_template(StackName=stack_name, TemplateStage="Original")[
            "TemplateBody"
        ]
    except botocore.exceptions.ClientError as error:
        raise PlanDiffError(f"cannot read the deployed stack {stack_name}: {error}") from None
    except botocore.exceptions.BotoCoreError:
        return None  # no region or no endpoint: same as offline
    return dict(json.loads(body) if isinstance(body, str) else body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("environment")
    parser.add_argument("--new-assembly", type=Path, required=True, help="the working tree's synthesized cdk.out")
    parser.add_argument("--old-assembly", type=Path, default=Path("cdk.out"), help="offline baseline (cdk.out)")
    parser.add_argument("--offline", action="store_true", help="compare with --old-assembly even with credentials")
    args = parser.parse_args(argv)
    try:
        new = assembly_template(args.new_assembly, args.environment)
        old, label = None, ""
        if not args.offline:
            settings = load_environment(args.environment)
            old = deployed_template(settings.stack_name, settings.region)
            label = f"the deployed stack {settings.stack_name}"
        if old is None:
            old = assembly_template(args.old_assembly, args.environment)
            label = f"the last synth ({args.old_assembly}; offline)"
        print("\n".join(report(old, new, old_label=label)))
    except (PlanDiffError, SettingsError) as error:
        print(f"plan-diff: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
