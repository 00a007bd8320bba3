"""YAML loading whose every error names the file, the line and the key.

Files are parsed by :mod:`watchdeck.core.config.yamlfile`, which remembers where each key
and item came from; msgspec then validates the data, and each validation error's location
(``panels.0.queries.1.expr``) is walked back through the parsed document to a line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from watchdeck.core.config.models import (
    PANEL_TYPES,
    SOURCE_TYPES,
    Config,
    Layout,
    Panel,
    SourceConfig,
    Variable,
)
from watchdeck.core.config.types import ModelError, convert
from watchdeck.core.config.yamlfile import YamlMap, YamlSeq, YamlSyntaxError, load

M = TypeVar("M")
Loc = Sequence[str | int]


@dataclass(frozen=True, slots=True)
class FileIssue:
    """One problem in a file, at a line (1-based) and key path when known."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    key: str | None = None

    def __str__(self) -> str:
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        key = f"{self.key}: " if self.key else ""
        return f"{where}: {key}{self.message}"


class FileError(Exception):
    """A file that cannot be used, with every problem found in it."""

    def __init__(self, issues: Iterable[FileIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))

    @property
    def first(self) -> FileIssue:
        return self.issues[0]


def display_path(path: Path) -> str:
    """Show ``path`` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_yaml(text: str, path: str) -> Any:
    """Parse one YAML document, turning syntax errors into a :class:`FileError`."""
    try:
        return load(text)
    except YamlSyntaxError as error:
        raise FileError(
            [FileIssue(path, f"YAML syntax error: {error.message}", error.line, error.column)]
        ) from None


def read_yaml_mapping(path: Path) -> tuple[YamlMap, str]:
    """Read ``path`` as a YAML mapping. Returns the data and the path as shown to users."""
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileError([FileIssue(shown, "file not found")]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise FileError([FileIssue(shown, f"cannot read: {error}")]) from None
    data = parse_yaml(text, shown)
    if data is None:
        raise FileError([FileIssue(shown, "the file is empty", line=1)])
    if not isinstance(data, dict):
        raise FileError([FileIssue(shown, "expected a mapping (key: value) at the top", line=1)])
    return data, shown


# --------------------------------------------------------------------------- locations


def format_key(loc: Loc) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def locate(data: Any, loc: Loc) -> tuple[list[str | int], int | None, int | None]:
    """Walk ``loc`` through parsed YAML.

    Returns the parts of ``loc`` that name real keys and items, and the 1-based line and
    column of the deepest node found. A missing key keeps the position of its parent.
    """
    path: list[str | int] = []
    line = column = None
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            if isinstance(node, YamlMap):
                line, column = node.key_positions[part]
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if isinstance(node, YamlSeq):
                line, column = node.item_positions[part]
            path.append(part)
            node = node[part]
    return path, line, column


def _vocabulary(models: Iterable[type]) -> set[str]:
    """Every field name of ``models`` and the structs they contain (for "did you mean")."""
    words: set[str] = set()
    seen: set[type] = set()
    stack = list(models)
    while stack:
        model = stack.pop()
        if model in seen or not isinstance(model, type) or not issubclass(model, msgspec.Struct):
            continue
        seen.add(model)
        for field in msgspec.structs.fields(model):
            words.add(field.name)
            stack.extend(_struct_args(field.type))
        stack.extend(model.__subclasses__())
    return words


def _struct_args(annotation: Any) -> Iterable[type]:
    if isinstance(annotation, type):
        yield annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _struct_args(arg)
    origin = getattr(annotation, "__origin__", None)
    if getattr(annotation, "__metadata__", None) is not None and origin is not None:
        yield from _struct_args(origin)


_PATH_PART = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")
_TYPE_WORDS = {"array": "a list", "object": "a mapping", "str": "text", "int": "an integer",
               "float": "a number", "bool": "true or false", "null": "nothing"}


def _parse_path(path: str) -> list[str | int]:
    loc: list[str | int] = []
    for name, index in _PATH_PART.findall(path[1:] if path.startswith("$") else path):
        if name:
            loc.append(name)
        elif index != "...":
            loc.append(int(index))
    return loc


def _translate(reason: str, loc: list[str | int], vocabulary: set[str]
               ) -> tuple[str, list[str | int]]:
    """msgspec's words to ours; returns the message and the location it is about."""
    if reason.startswith("@"):  # a field named by a model's own check
        name, _, message = reason[1:].partition(": ")
        return message, [*loc, *name.split(".")]
    unknown = re.match(r"Object contains unknown field `(.*)`$", reason)
    if unknown:
        bad = unknown.group(1)
        close = difflib.get_close_matches(bad, sorted(vocabulary), n=1, cutoff=0.7)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key '{bad}'{hint}", [*loc, bad]
    what = "source type" if loc and loc[0] == "sources" else "panel type"
    expected = ", ".join(SOURCE_TYPES if what == "source type" else PANEL_TYPES)
    missing = re.match(r"Object missing required field `(.*)`$", reason)
    if missing:
        name = missing.group(1)
        if name == "type":
            return f"missing 'type' (the {what}: one of {expected})", loc
        return f"missing required key '{name}'", [*loc, name]
    enum = re.match(r"Invalid enum value '(.*)'$", reason)
    if enum and loc == ["roles"]:
        return (f"unknown role '{enum.group(1)}' (roles: metrics, alerts, logs, traces)",
                [*loc, enum.group(1)])
    tag = re.match(r"Invalid value '(.*)'$", reason)
    if tag and loc and loc[-1] == "type":
        return f"unknown {what} '{tag.group(1)}' (expected one of: {expected})", loc
    wrong = re.match(r"Expected `([^`]*)`, got `([^`]*)`$", reason)
    if wrong:
        want, got = wrong.groups()
        want = " or ".join(_TYPE_WORDS.get(w, w) for w in want.split(" | "))
        return f"expected {want}, got {_TYPE_WORDS.get(got, got)}", loc
    return reason.replace("`", ""), loc


def issues_from_model_error(error: ModelError, data: Any, path: str, model: type
                            ) -> list[FileIssue]:
    issues = []
    vocabulary = _vocabulary([model])
    for reason in error.reason.split("\n@"):  # several field errors of one object
        if issues:
            reason = "@" + reason
        message, loc = _translate(reason, _parse_path(error.path), vocabulary)
        key_path, line, column = locate(data, loc)
        # A key that is not in the file (a missing one) is still named in the message.
        named = [*key_path, *loc[len(key_path):]] if loc[: len(key_path)] == key_path else key_path
        issues.append(FileIssue(path, message, line, column, format_key(named) or None))
    return issues


# Lists and mappings whose entries are checked one by one, so that a file with several
# broken panels (or sources) gets one message for each, not only for the first.
_ENTRY_CHECKED: dict[type, dict[str, Any]] = {
    Layout: {"panels": Panel, "variables": Variable},
    Config: {"sources": SourceConfig},
}


def _entry_issues(model: type, data: Any, path: str) -> tuple[list[FileIssue], Any]:
    """Issues of the entries of ``data``'s checked fields, and ``data`` without the bad
    entries (so the whole can still be checked for its own fields)."""
    fields = _ENTRY_CHECKED.get(model)
    if not fields or not isinstance(data, dict):
        return [], data
    issues: list[FileIssue] = []
    rest = dict(data)
    for name, entry_type in fields.items():
        entries = data.get(name)
        if isinstance(entries, list):
            keys: list[Any] = list(range(len(entries)))
        elif isinstance(entries, dict):
            keys = list(entries)
        else:
            continue
        good = {}
        for key in keys:
            raw = entries[key]
            where = f"$.{name}[{key}]" if isinstance(key, int) else f"$.{name}.{key}"
            if name == "sources" and isinstance(raw, dict) and "type" not in raw:
                expected = ", ".join(SOURCE_TYPES)
                issues.append(issue_at(data, [name, key], path,
                                       f"missing 'type' (the source type: one of {expected})"))
                continue
            try:
                convert(entry_type, raw)
            except ModelError as error:
                nested = ModelError(error.reason, where + error.path[1:])
                issues += issues_from_model_error(nested, data, path, model)
                continue
            good[key] = raw
        rest[name] = list(good.values()) if isinstance(entries, list) else good
        if isinstance(entries, list) and entries and not good:
            rest[name] = entries  # keep the list non-empty; its errors are reported
    return issues, rest


def validate(model: type[M], data: Any, path: str) -> M:
    """Validate parsed YAML against ``model``; errors carry file, line and key."""
    issues, rest = _entry_issues(model, data, path)
    try:
        result = convert(model, rest if issues else data)
    except ModelError as error:
        for issue in issues_from_model_error(error, data, path, model):
            if not any(issue.line == known.line and issue.key == known.key for known in issues):
                issues.append(issue)
        result = None
    if issues:
        issues.sort(key=lambda issue: (issue.line or 0, issue.column or 0))
        raise FileError(issues)
    assert result is not None
    return result


def issue_at(data: Any, loc: Loc, path: str, message: str) -> FileIssue:
    """A :class:`FileIssue` for a semantic check at ``loc`` in parsed YAML."""
    key_path, line, column = locate(data, loc)
    return FileIssue(path, message, line, column, format_key(key_path) or None)


_VARIABLE_REF = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]+)?\}|([A-Za-z_][A-Za-z0-9_]*))"
    r"|\[\[([A-Za-z_][A-Za-z0-9_]*)\]\]"
)


def variable_references(text: str) -> set[str]:
    """Names of ``$var``, ``${var}`` and ``[[var]]`` references in ``text`` (not ``$1``)."""
    return {a or b or c for a, b, c in _VARIABLE_REF.findall(text)}
