"""Reading a synthesized cloud assembly and resolving the CloudFormation intrinsics in its templates.

The resolver is deliberately small: the functions CDK emits for this app (``Ref``, ``Fn::GetAtt``,
``Fn::Join``, ``Fn::Sub``, ``Fn::Select``, ``Fn::Split``, ``Fn::If`` with the template's conditions,
``Fn::Equals``/``Not``/``And``/``Or``) and the pseudo parameters. An unknown function or a reference
to something not deployed raises, so a template change that the rehearsal cannot follow is loud.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class UnresolvableError(KeyError):
    """A reference the rehearsal has no value for."""


@dataclass
class Resolver:
    """Values for ``Ref``/``Fn::GetAtt``: physical ids and attributes of what was deployed."""

    region: str
    account: str
    partition: str = "aws"
    stack_name: str = "stack"
    refs: dict[str, Any] = field(default_factory=dict)
    attributes: dict[tuple[str, str], Any] = field(default_factory=dict)
    conditions: Mapping[str, Any] = field(default_factory=dict)
    #: logical ids not deployed: their Ref and attributes resolve to a recognisable placeholder
    placeholders: set[str] = field(default_factory=set)

    def pseudo(self) -> dict[str, Any]:
        return {
            "AWS::Partition": self.partition,
            "AWS::Region": self.region,
            "AWS::AccountId": self.account,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account}:stack/"
            f"{self.stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": _NO_VALUE,
        }

    def ref(self, name: str) -> Any:
        pseudo = self.pseudo()
        if name in pseudo:
            return pseudo[name]
        if name in self.refs:
            return self.refs[name]
        if name in self.placeholders:
            return f"{PLACEHOLDER}{name}"
        raise UnresolvableError(f"Ref {name}: not deployed in the rehearsal")

    def get_att(self, logical_id: str, attribute: str) -> Any:
        if logical_id in self.placeholders:
            return f"{PLACEHOLDER}{logical_id}.{attribute}"
        try:
            return self.attributes[(logical_id, attribute)]
        except KeyError:
            raise UnresolvableError(
                f"Fn::GetAtt {logical_id}.{attribute}: not deployed in the rehearsal"
            ) from None

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.conditions[name]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Condition":
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._function(key, arg)
        return {k: v for k, v in ((k, self.resolve(v)) for k, v in value.items()) if v is not _NO_VALUE}

    def _function(self, name: str, arg: Any) -> Any:
        if name == "Fn::GetAtt":
            logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
            return self.get_att(logical_id, self.resolve(attribute))
        if name == "Fn::Join":
            separator, parts = arg
            return str(self.resolve(separator)).join(str(p) for p in self.resolve(parts))
        if name == "Fn::Sub":
            template, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return _SUB.sub(lambda m: self._sub_value(m.group(1), variables), template)
        if name == "Fn::Select":
            index, items = self.resolve(arg)
            return items[int(index)]
        if name == "Fn::Split":
            separator, text = self.resolve(arg)
            return str(text).split(separator)
        if name == "Fn::If":
            condition, when_true, when_false = arg
            return self.resolve(when_true if self.condition(condition) else when_false)
        if name == "Fn::Equals":
            left, right = self.resolve(arg)
            return left == right
        if name == "Fn::Not":
            return not self.resolve(arg[0])
        if name == "Fn::And":
            return all(self.resolve(arg))
        if name == "Fn::Or":
            return any(self.resolve(arg))
        raise UnresolvableError(f"{name}: not supported by the rehearsal's resolver")

    def _sub_value(self, expression: str, variables: Mapping[str, Any]) -> str:
        if expression.startswith("!"):  # ${!Literal}
            return "${" + expression[1:] + "}"
        if expression in variables:
            return str(variables[expression])
        if "." in expression and not expression.startswith("AWS::"):
            logical_id, attribute = expression.split(".", 1)
            return str(self.get_att(logical_id, attribute))
        return str(self.ref(expression))


PLACEHOLDER = "rehearsal-not-deployed:"
_SUB = re.compile(r"\$\{([^}]+)\}")
_NO_VALUE = object()


def references(value: Any) -> set[str]:
    """Logical ids a template value refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= references(item)
    elif isinstance(value, dict):
        for key, arg in value.items():
            if key == "Ref" and isinstance(arg, str) and not arg.startswith("AWS::"):
                found.add(arg)
            elif key == "Fn::GetAtt":
                found.add(arg[0] if isinstance(arg, list) else arg.split(".", 1)[0])
            elif key == "Fn::Sub":
                template = arg if isinstance(arg, str) else arg[0]
                for expression in _SUB.findall(template):
                    if not expression.startswith(("AWS::", "!")):
                        found.add(expression.split(".", 1)[0])
                if isinstance(arg, list):
                    found |= references(arg[1])
            else:
                found |= references(arg)
    return found


# --------------------------------------------------------------------------------------------------
# The cloud assembly
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StackArtifact:
    """One stack of a synthesized stage: its template and where each file asset's content lies."""

    stack_name: str
    template: dict[str, Any]
    template_path: Path
    #: object key in the assets bucket (``<hash>.zip``) -> the asset's directory or file in cdk.out
    asset_sources: dict[str, Path]

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template.get("Resources", {}))

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.resources.items() if r.get("Type") == resource_type}


def load_stack(assembly_dir: Path, stage: str) -> StackArtifact:
    """The (single) stack of stage ``stage`` in ``assembly_dir`` (cdk.out): ``assembly-<stage>/``."""
    stage_dir = Path(assembly_dir) / f"assembly-{stage}"
    manifest = json.loads((stage_dir / "manifest.json").read_text())
    stacks = [
        (name, a) for name, a in manifest["artifacts"].items() if a.get("type") == "aws:cloudformation:stack"
    ]
    if len(stacks) != 1:
        raise ValueError(f"expected one stack in {stage_dir}, found {[n for n, _ in stacks]}")
    artifact_id, artifact = stacks[0]
    properties = artifact["properties"]
    template_path = stage_dir / properties["templateFile"]
    stack_name = properties.get("stackName", artifact_id)
    asset_sources: dict[str, Path] = {}
    for assets_file in stage_dir.glob(f"{artifact_id}.assets.json"):
        for asset in json.loads(assets_file.read_text()).get("files", {}).values():
            source = (stage_dir / asset["source"]["path"]).resolve()
            for destination in asset["destinations"].values():
                asset_sources[destination["objectKey"]] = source
    return StackArtifact(
        stack_name=stack_name,
        template=json.loads(template_path.read_text()),
        template_path=template_path,
        asset_sources=asset_sources,
    )
