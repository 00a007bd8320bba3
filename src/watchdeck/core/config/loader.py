"""YAML loading whose every error names the file, the line and the key.

Files are parsed with ruamel.yaml's round-trip loader, which remembers where each key and
item came from; pydantic then validates the data, and each validation error's location
(``panels.0.queries.1.expr``) is walked back through the parsed document to a line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from watchdeck.core.config.models import PANEL_TYPES, SOURCE_TYPES

M = TypeVar("M", bound=BaseModel)
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
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    try:
        return yaml.load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = (error.problem or "").strip() or "bad YAML"
        context = f" ({error.context.strip()})" if error.context else ""
        raise FileError(
            [
                FileIssue(
                    path,
                    f"YAML syntax error: {problem}{context}",
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                )
            ]
        ) from None
    except YAMLError as error:
        raise FileError([FileIssue(path, f"YAML error: {error}")]) from None


def read_yaml_mapping(path: Path) -> tuple[CommentedMap, str]:
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

    Returns the parts of ``loc`` that name real keys and items (pydantic adds union tags
    and missing keys that are not in the file), and the 1-based line and column of the
    deepest node found. A missing key keeps the position of its parent.
    """
    path: list[str | int] = []
    line = column = None
    node = data
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part in node:
            if isinstance(node, CommentedMap):
                line, column = node.lc.key(part)
                line, column = line + 1, column + 1
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            if isinstance(node, CommentedSeq):
                line, column = node.lc.item(part)
                line, column = line + 1, column + 1
            path.append(part)
            node = node[part]
    return path, line, column


def _vocabulary(models: Iterable[type[BaseModel]]) -> set[str]:
    words: set[str] = set()
    seen: set[type] = set()
    stack = list(models)
    while stack:
        model = stack.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            words.add(name)
            for arg in _model_args(field.annotation):
                stack.append(arg)
    return words


def _model_args(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for arg in getattr(annotation, "__args__", ()) or ():
        yield from _model_args(arg)
    metadata = getattr(annotation, "__metadata__", None)
    origin = getattr(annotation, "__origin__", None)
    if metadata is not None and origin is not None:
        yield from _model_args(origin)


def _message(error: dict[str, Any], key_path: list[str | int], vocabulary: set[str]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        bad = str(key_path[-1]) if key_path else "?"
        close = difflib.get_close_matches(bad, sorted(vocabulary), n=1, cutoff=0.7)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key '{bad}'{hint}"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        what = "source type" if key_path and key_path[0] == "sources" else "panel type"
        expected = str(ctx.get("expected_tags", "")).replace("'", "")
        if not expected:  # pydantic names no tags when the key is missing
            expected = ", ".join(SOURCE_TYPES if what == "source type" else PANEL_TYPES)
        if kind == "union_tag_not_found":
            return f"missing 'type' (the {what}: one of {expected})"
        return f"unknown {what} '{ctx.get('tag')}' (expected one of: {expected})"
    if kind == "missing":
        return "missing required key"
    message = str(error.get("msg", "invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix):]
    return message


def issues_from_validation(
    error: ValidationError, data: Any, path: str, model: type[BaseModel]
) -> list[FileIssue]:
    vocabulary = _vocabulary([model])
    issues: list[FileIssue] = []
    seen: set[tuple[Any, ...]] = set()
    for item in error.errors(include_url=False):
        loc = list(item["loc"])
        if item["type"] in ("union_tag_invalid",):
            loc = [*loc, "type"]
        key_path, line, column = locate(data, loc)
        if item["type"] == "missing" and loc and isinstance(loc[-1], str):
            key_path.append(loc[-1])
        message = _message(item, key_path, vocabulary)
        issue = FileIssue(path, message, line, column, format_key(key_path) or None)
        marker = (issue.line, issue.key, issue.message)
        if marker not in seen:
            seen.add(marker)
            issues.append(issue)
    issues.sort(key=lambda issue: (issue.line or 0, issue.column or 0))
    return issues


def validate(model: type[M], data: Any, path: str) -> M:
    """Validate parsed YAML against ``model``; errors carry file, line and key."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise FileError(issues_from_validation(error, data, path, model)) from None


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
