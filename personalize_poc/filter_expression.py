"""Personalize filter expressions, parsed with a grammar and checked against the POC's schemas at synth time.

Grammar written from the developer guide, "Filter expression structure and elements":
  EXCLUDE/INCLUDE ItemID/ActionID/UserID WHERE <dataset>.<field> IN/NOT IN (<value/parameter>)
with AND/OR between conditions, the comparison operators =, <, <=, >, >=, != for numerical data, `$NAME`
placeholder parameters, `CurrentItem.<field>` as a value (related-items recipes), one trailing
`IF CurrentUser.<field> ...` extended with AND, `"*"` for all event types, and `|` chaining expressions.
The semantic rules come from "Filter expressions" and "Guidelines and requirements" (cited per rule below).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

from lark import Lark, Token, Transformer, UnexpectedInput

_GRAMMAR = r"""
start: expression ("|" expression)*
expression: ACTION TARGET "WHERE" condition (("AND" | "OR") condition)* if_clause?
if_clause: "IF" user_condition ("AND" user_condition)*
condition: field_ref test
user_condition: current_user test
test: in_op value_list -> membership
    | CMP operand      -> comparison
in_op: "IN" -> in_ | "NOT" "IN" -> not_in
value_list: "(" value ("," value)* ")" | current_item
value: STRING -> string | NUMBER -> number | PARAM -> param
operand: NUMBER -> number | PARAM -> param | current_item -> item_operand
       | "(" NUMBER ")" -> number | "(" PARAM ")" -> param
field_ref: DATASET "." NAME
current_user: "CurrentUser" "." NAME
current_item: "CurrentItem" "." NAME

ACTION: "INCLUDE" | "EXCLUDE"
TARGET: "ItemID" | "UserID" | "ActionID"
CMP: "<=" | ">=" | "!=" | "=" | "<" | ">"
DATASET: "Interactions" | "Items" | "Users" | "Actions" | "Action_Interactions"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
PARAM: /\$[A-Za-z_][A-Za-z0-9_]*/
STRING: /"(?:[^"\\]|\\.)*"/
NUMBER: /[+-]?(?:\d+(?:\.\d*)?|\.\d+)/
%import common.WS
%ignore WS
"""

# Words for the grammar's terminals in "expected ..." messages.
_WORDS = {
    "ACTION": "INCLUDE or EXCLUDE",
    "TARGET": "ItemID, UserID or ActionID",
    "WHERE": "WHERE",
    "DATASET": "a dataset (Interactions, Items, Users)",
    "NAME": "a field name",
    "DOT": "'.'",
    "IN": "IN",
    "NOT": "NOT IN",
    "CMP": "a comparison (=, <, <=, >, >=, !=)",
    "LPAR": "'('",
    "RPAR": "')'",
    "STRING": 'a "quoted" value',
    "NUMBER": "a number",
    "PARAM": "a $PARAMETER",
    "COMMA": "','",
    "OR": "OR",
    "AND": "AND",
    "IF": "IF",
    "VBAR": "'|'",
    "CURRENTITEM": "CurrentItem",
    "CURRENTUSER": "CurrentUser",
    "$END": "the end",
}
DATASET_KIND = {"Interactions": "interactions", "Items": "items", "Users": "users"}
NUMERIC_TYPES = {"int", "long", "float", "double"}
# "Guidelines and requirements": at most 10 distinct dataset fields in one filter (all chained expressions),
# at most 20 across all filters of a dataset group.
MAX_FIELDS_PER_FILTER = 10
MAX_FIELDS_PER_DATASET_GROUP = 20


@dataclass(frozen=True)
class Value:
    kind: str  # string | number | param | current_item
    text: str


@dataclass(frozen=True)
class Condition:
    dataset: str  # as written: Items, Interactions, Users ... or CurrentUser
    field: str
    operator: str  # IN, NOT IN, =, <, ...
    values: tuple[Value, ...]


@dataclass(frozen=True)
class Expression:
    action: str
    target: str
    conditions: tuple[Condition, ...]
    user_conditions: tuple[Condition, ...] = ()


@dataclass(frozen=True)
class ParsedFilter:
    expressions: tuple[Expression, ...]
    fields: frozenset[tuple[str, str]] = field(default_factory=frozenset)

    @property
    def uses_current_item(self) -> bool:
        return any(
            v.kind == "current_item"
            for e in self.expressions
            for c in (*e.conditions, *e.user_conditions)
            for v in c.values
        )


class FilterSyntaxError(ValueError):
    """The expression does not follow the grammar; the message is one line with the column."""


class _Build(Transformer[Token, Any]):
    def start(self, items: list[Expression]) -> tuple[Expression, ...]:
        return tuple(items)

    def expression(self, items: list[Any]) -> Expression:
        action, target, *rest = items
        users: tuple[Condition, ...] = ()
        if rest and isinstance(rest[-1], tuple):
            users = rest.pop()
        return Expression(str(action), str(target), tuple(c for c in rest if isinstance(c, Condition)), users)

    def if_clause(self, items: list[Condition]) -> tuple[Condition, ...]:
        return tuple(items)

    def condition(self, items: list[Any]) -> Condition:
        (dataset, name), (operator, values) = items
        return Condition(dataset, name, operator, values)

    user_condition = condition

    def membership(self, items: list[Any]) -> tuple[str, tuple[Value, ...]]:
        return items[0], items[1]

    def comparison(self, items: list[Any]) -> tuple[str, tuple[Value, ...]]:
        return str(items[0]), (items[1],)

    def in_(self, _: list[Any]) -> str:
        return "IN"

    def not_in(self, _: list[Any]) -> str:
        return "NOT IN"

    def value_list(self, items: list[Value]) -> tuple[Value, ...]:
        return tuple(items)

    def string(self, items: list[Token]) -> Value:
        return Value("string", str(items[0])[1:-1])

    def number(self, items: list[Token]) -> Value:
        return Value("number", str(items[0]))

    def param(self, items: list[Token]) -> Value:
        return Value("param", str(items[0]))

    def item_operand(self, items: list[Value]) -> Value:
        return items[0]

    def field_ref(self, items: list[Token]) -> tuple[str, str]:
        return str(items[0]), str(items[1])

    def current_user(self, items: list[Token]) -> tuple[str, str]:
        return "CurrentUser", str(items[0])

    def current_item(self, items: list[Token]) -> Value:
        return Value("current_item", str(items[0]))


@functools.cache
def _parser() -> Lark:
    return Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)


def parse_filter(expression: str) -> ParsedFilter:
    """Parse a filter expression; FilterSyntaxError (one line, with the column) if it does not read."""
    try:
        tree = _parser().parse(expression)
    except UnexpectedInput as exc:
        raise FilterSyntaxError(_syntax_message(exc, expression)) from None
    expressions: tuple[Expression, ...] = _Build().transform(tree)
    fields = {(c.dataset, c.field) for e in expressions for c in (*e.conditions, *e.user_conditions)}
    fields |= {
        ("CurrentItem", v.text)
        for e in expressions
        for c in (*e.conditions, *e.user_conditions)
        for v in c.values
        if v.kind == "current_item"
    }
    return ParsedFilter(expressions, frozenset(fields))


def _syntax_message(exc: UnexpectedInput, expression: str) -> str:
    column = getattr(exc, "column", 0)
    rest: list[str] = expression[exc.pos_in_stream :].split() if exc.pos_in_stream is not None else []
    found = rest[0][:30] if rest else "the end"
    expected = sorted({_WORDS.get(name, name) for name in (getattr(exc, "expected", None) or [])})
    wanted = f"; expected {' or '.join(expected)}" if expected else ""
    return f"cannot parse at column {column} ('{found}'){wanted}"


# ---------------------------------------------------------------------------------------------------
# Rules beyond the grammar, against the POC's schemas.


@dataclass(frozen=True)
class _FieldInfo:
    types: frozenset[str]
    textual: bool


def _fields_of(schema: dict[str, Any]) -> dict[str, _FieldInfo]:
    fields: dict[str, _FieldInfo] = {}
    for item in schema.get("fields", []):
        kind = item.get("type")
        members = frozenset(kind if isinstance(kind, list) else [kind]) - {"null"}
        fields[item["name"]] = _FieldInfo(members, bool(item.get("textual")))
    return fields


def check_filter(
    expression: str, schemas: dict[str, dict[str, Any]], targets: frozenset[str] = frozenset({"ItemID"})
) -> ParsedFilter:
    """Parse and check a filter against the schemas by dataset kind (interactions, items, users).
    ``targets``: what the POC's recipes can filter (ItemID; UserID too with user segments).
    Raises ValueError with one line naming the problem."""
    parsed = parse_filter(expression)
    fields = {kind: _fields_of(schema) for kind, schema in schemas.items()}
    for expr in parsed.expressions:
        _check_expression(expr, fields, targets)
    if len(parsed.fields) > MAX_FIELDS_PER_FILTER:
        raise ValueError(
            f"uses {len(parsed.fields)} distinct dataset fields; a filter may use at most {MAX_FIELDS_PER_FILTER}"
        )
    return parsed


def _check_expression(expr: Expression, fields: dict[str, dict[str, _FieldInfo]], targets: frozenset[str]) -> None:
    if expr.target not in targets:
        # UserID filters apply to user segments (batch_segments), ActionID to action recommendations.
        raise ValueError(
            f"{expr.target} filters do not apply to this POC's recipes, which "
            + ("filter users (batch segment jobs) or items" if "UserID" in targets else "recommend items")
            + f"; use {' or '.join(sorted(targets))}"
        )
    first = expr.conditions[0].dataset
    for condition in expr.conditions:
        # "Conditions chained together using AND or OR can only affect fields of the dataset used in the first
        # condition"; "You can't use Item Interaction and Item datasets in one expression" - chain with '|'.
        if condition.dataset != first:
            raise ValueError(
                f"{condition.dataset}.{condition.field} in an expression on {first}: one expression uses one "
                "dataset; chain another expression with '|'"
            )
        _check_condition(condition, fields)
    for condition in expr.user_conditions:
        _check_condition(condition, fields)


def _check_condition(condition: Condition, fields: dict[str, dict[str, _FieldInfo]]) -> None:
    label = f"{condition.dataset}.{condition.field}"
    if condition.dataset == "Users":
        raise ValueError(f"{label}: item filters use user fields only as 'IF CurrentUser.{condition.field} ...'")
    kind = "users" if condition.dataset == "CurrentUser" else DATASET_KIND.get(condition.dataset)
    if kind is None:
        raise ValueError(f"{label}: this POC has no {condition.dataset} dataset")
    if kind == "interactions" and condition.field != "EVENT_TYPE":
        # "If you are filtering based on item or action interactions data, you can only filter based on event type"
        raise ValueError(f"{label}: interactions can be filtered by EVENT_TYPE only")
    info = _field(kind, condition.field, label, fields)
    for value in condition.values:
        if value.kind == "current_item":
            _field("items", value.text, f"CurrentItem.{value.text}", fields)
        if value.text == "*" and value.kind == "string" and label != "Interactions.EVENT_TYPE":
            raise ValueError(f'{label}: "*" is only for Interactions.EVENT_TYPE')
        if value.kind == "param" and condition.operator == "NOT IN":
            # Service error: "Invalid input symbol: $parameterName. Placeholders are not allowed with NOT_IN operator."
            raise ValueError(
                f"{label}: placeholders like {value.text} are not allowed with NOT IN; use IN and swap INCLUDE/EXCLUDE"
            )
        if value.kind == "number" and condition.operator in ("IN", "NOT IN"):
            raise ValueError(f'{label}: IN and NOT IN compare strings; quote the value ("{value.text}")')
    if condition.operator in ("IN", "NOT IN") and "string" not in info.types:
        raise ValueError(f"{label} is not a string field; IN and NOT IN match strings, use =, <, > ... for numbers")
    if condition.operator not in ("IN", "NOT IN") and not info.types & NUMERIC_TYPES:
        raise ValueError(f"{label} is not a numeric field; {condition.operator} compares numbers, use IN for strings")


def _field(kind: str, name: str, label: str, fields: dict[str, dict[str, _FieldInfo]]) -> _FieldInfo:
    if kind not in fields:
        raise ValueError(f"{label}: references the {kind} dataset, which the config does not define")
    info = fields[kind].get(name)
    if info is None:
        raise ValueError(f"{label}: {name} is not a field of the {kind} schema")
    if "boolean" in info.types:
        # "You can't create filter expressions that filter using values with a boolean type in your schema."
        raise ValueError(f'{label}: boolean fields cannot be filtered; use a string ("True"/"False") or 0/1')
    if info.textual:
        # "You can't use filters to include or exclude items based on unstructured textual item metadata."
        raise ValueError(f"{label}: textual fields cannot be filtered")
    return info
