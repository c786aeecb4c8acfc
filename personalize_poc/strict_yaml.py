"""YAML for reviewed config files: safe loading, and a repeated key is an error instead of a silent override.

PyYAML's SafeLoader keeps the last of two equal keys, so a second `dev:` block replaces the first without a
word. Both config files (environments, POC definition) load through `load_strict`.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode


class DuplicateKeyError(yaml.YAMLError):
    """A mapping names the same key twice; the message gives both line numbers."""


class _UniqueKeyLoader(yaml.SafeLoader):
    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *anchor` may override merged keys on purpose
            key, line = self.construct_object(key_node, deep=deep), key_node.start_mark.line + 1
            try:
                if key in first_line:
                    raise DuplicateKeyError(
                        f"key '{key}' appears twice (line {first_line[key]} and line {line}); "
                        "the second would silently replace the first"
                    )
                first_line[key] = line
            except TypeError:
                continue  # an unhashable key: the base class reports it
        return super().construct_mapping(node, deep=deep)


def load_strict(text: str) -> Any:
    """Parse YAML like `yaml.safe_load`, raising DuplicateKeyError (a yaml.YAMLError) on a repeated key."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
