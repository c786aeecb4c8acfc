"""A state machine definition a reviewer can read in `cdk diff`: one line of the definition per template line.

CDK renders a definition as one compact JSON string, split only where a token (a Ref, a GetAtt) sits, so
`cdk diff` shows a one-field change of the POC definition (a campaign's minProvisionedTPS 1 -> 2) as a
multi-kilobyte line. Here the definition is pretty-printed (one field per line) and the lines are joined
with `Fn::Join ["\\n", [line, line, ...]]`: Step Functions still receives the same JSON (whitespace between
JSON tokens means nothing, RFC 8259 section 2), and `cdk diff` shows the changed line with three lines of
context on each side, e.g.

    [~] AWS::StepFunctions::StateMachine PersonalizePoc/Workflow/StateMachine ...
     └─ [~] DefinitionString
         └─ [~] .Fn::Join:
             └─ @@ -120,7 +120,7 @@
                [-]     "        \\"minProvisionedTPS\\": 1,",
                [+]     "        \\"minProvisionedTPS\\": 2,",

It subclasses `ChainDefinitionBody` (not `DefinitionBody`) because the StateMachine grants its role what
the tasks need (Lambda invoke, SNS publish) only for a chainable body.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsii
from aws_cdk import IResolvable, IResolveContext, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_stepfunctions as sfn

from constructs import Construct

# One space per level: the definition stays far below Step Functions' 1,048,576-character limit on a
# definition (Step Functions developer guide, "Quotas": "Maximum size of state machine definition") and
# the template far below CloudFormation's 1 MB (CloudFormation user guide, "Quotas": "Template body size
# in an Amazon S3 object").
INDENT = 1


class LineByLineDefinition(sfn.ChainDefinitionBody):
    """`DefinitionBody.from_chainable`, rendered one JSON line per template line."""

    def bind(
        self,
        scope: Construct,
        sfn_principal: iam.IPrincipal,
        sfn_props: sfn.StateMachineProps | dict[str, Any],
        graph: sfn.StateGraph | None = None,
    ) -> sfn.DefinitionConfig:
        # CDK renders the definition (in its own process: the graph's JSON does not cross into Python,
        # where jsii would turn its nulls into empty strings); only the resolved result is re-laid out.
        compact = super().bind(scope, sfn_principal, sfn_props, graph)
        if compact.definition_string is None:
            raise TypeError("a chainable definition renders to a definition string (aws-cdk-lib state-machine.js)")
        lines = _JoinedLines(compact.definition_string)
        return sfn.DefinitionConfig(definition_string=Token.as_string(lines))


# Resolved values remembered per token: the two that alternate during synth, and room for one more.
_LAID_OUT_KEPT = 3


@jsii.implements(IResolvable)
class _JoinedLines:
    """`Fn::Join ["\\n", lines]` of the pretty-printed definition, written out as such: `Fn.join` would
    merge neighbouring literal lines into one string again (aws-cdk-lib core/lib/private/
    cloudformation-lang.js, minimalCloudFormationJoin)."""

    creation_stack: list[str] = []

    def __init__(self, definition_string: str, indent: int = INDENT) -> None:
        self._definition_string = definition_string
        self._indent = indent
        # [(resolved compact definition, its lines)]: synth resolves every token four times, to two
        # different values that alternate (CDK's pass that looks for cross-stack references renders each
        # intrinsic as "[object Object]"; the template passes render it as such); laying out ~1,000 lines
        # again for a value already seen is waste.
        self._laid_out: list[tuple[Any, list[Any]]] = []

    def resolve(self, context: IResolveContext) -> Any:
        resolved = context.resolve(self._definition_string)
        lines = next((lines for seen, lines in self._laid_out if seen == resolved), None)
        if lines is None:
            lines = one_line_per_field(resolved, self._indent)
            self._laid_out = [*self._laid_out[-(_LAID_OUT_KEPT - 1) :], (resolved, lines)]
        return {"Fn::Join": ["\n", lines]}

    def to_string(self) -> str:
        return Token.as_string(self)


def one_field_per_line(json_string: str, indent: int = 0) -> str:
    """Any JSON property written by CDK (a dashboard body, ...) laid out the same way; indent 0 adds only
    the newlines (the POC's dashboard body: about 50 KB, a few KB more with them)."""
    return Token.as_string(_JoinedLines(json_string, indent))


def one_line_per_field(resolved: Any, indent: int = INDENT) -> list[Any]:
    """A resolved compact definition (a string, or `Fn::Join ["", parts]` where a part is a Ref/GetAtt
    inside a JSON string) -> its pretty-printed lines; a line holding intrinsics is `Fn::Join ["", ...]`."""
    if isinstance(resolved, str):
        parts: list[Any] = [resolved]
    else:
        ((function, (separator, parts)),) = resolved.items()
        if function != "Fn::Join" or separator != "":
            raise ValueError(f"unexpected definition shape: {function} with {separator!r}")
    intrinsics: list[Any] = []
    text = []
    for part in parts:
        if isinstance(part, str):
            if PLACEHOLDER.format("") in part:
                raise ValueError("the definition contains the placeholder text itself")
            text.append(part)
        else:
            text.append(PLACEHOLDER.format(len(intrinsics)))
            intrinsics.append(part)
    # Every intrinsic sits inside a JSON string value (aws-cdk-lib Stack.toJsonString), so the
    # placeholders survive a parse and a dump unchanged.
    pretty = json.dumps(json.loads("".join(text)), indent=indent, ensure_ascii=False)
    return [_with_intrinsics(line, intrinsics) for line in pretty.splitlines()]


PLACEHOLDER = "@@intrinsic-{}@@"
_PLACEHOLDER_PATTERN = re.compile(r"@@intrinsic-(\d+)@@")


def _with_intrinsics(line: str, intrinsics: list[Any]) -> Any:
    pieces = _PLACEHOLDER_PATTERN.split(line)
    if len(pieces) == 1:
        return line
    joined: list[Any] = []
    for index, piece in enumerate(pieces):
        if index % 2:
            joined.append(intrinsics[int(piece)])
        elif piece:
            joined.append(piece)
    return {"Fn::Join": ["", joined]}
