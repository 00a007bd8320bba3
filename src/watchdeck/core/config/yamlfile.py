"""YAML parsing that remembers where every key and item came from.

PyYAML's libyaml parser does the parsing and composing (fast: the console reads every
layout at start-up); construction is ours and records the 1-based line and column of
each mapping key and sequence item, so that validation errors can name them.

Scalars follow YAML 1.2's core schema: only ``true``/``false`` are booleans, so
``values: [no, se]`` stays a list of country codes.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlMap(dict):  # type: ignore[type-arg]
    """A mapping that knows the (line, column) of each key."""

    key_positions: dict[Any, tuple[int, int]]


class YamlSeq(list):  # type: ignore[type-arg]
    """A sequence that knows the (line, column) of each item."""

    item_positions: list[tuple[int, int]]


class YamlSyntaxError(Exception):
    def __init__(self, message: str, line: int | None, column: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def _position(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


class _Loader(_Base):  # type: ignore[misc, valid-type]
    pass


# YAML 1.2 core-schema booleans instead of YAML 1.1's yes/no/on/off.
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in _Base.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> YamlMap:
    data = YamlMap()
    data.key_positions = {}
    own: set[Any] = set()
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # <<: *anchor (own keys win)
            merged = loader.construct_object(value_node, deep=True)
            for source in merged if isinstance(merged, list) else [merged]:
                if not isinstance(source, dict):
                    line, column = _position(key_node)
                    raise YamlSyntaxError("'<<' merges mappings only", line, column)
                for key, value in source.items():
                    if key not in own and key not in data:
                        data[key] = value
                        data.key_positions[key] = _position(key_node)
            continue
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            line, column = _position(key_node)
            raise YamlSyntaxError("a mapping key must be a plain value", line, column) from None
        if key in own:
            line, column = _position(key_node)
            first = data.key_positions[key][0]
            raise YamlSyntaxError(f"duplicate key '{key}' (first on line {first})", line, column)
        own.add(key)
        data[key] = loader.construct_object(value_node, deep=True)
        data.key_positions[key] = _position(key_node)
    return data


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> YamlSeq:
    data = YamlSeq(loader.construct_object(child, deep=True) for child in node.value)
    data.item_positions = [_position(child) for child in node.value]
    return data


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_sequence)


def load(text: str) -> Any:
    """Parse one YAML document; syntax errors become :class:`YamlSyntaxError`."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader subclass
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = (error.problem or "bad YAML").strip()
        context = f" ({error.context.strip()})" if error.context else ""
        raise YamlSyntaxError(
            f"{problem}{context}",
            mark.line + 1 if mark else None,
            mark.column + 1 if mark else None,
        ) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(str(error), None, None) from None
