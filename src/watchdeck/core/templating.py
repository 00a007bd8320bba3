"""Layout templating: ``$variables``, Grafana's ``$__interval`` family, and legends."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from watchdeck.core.config.models import Variable
from watchdeck.core.durations import format_duration
from watchdeck.core.model import Labels, format_selector

_REF = re.compile(r"\$\{([A-Za-z_]\w*)(?::([a-z]+))?\}|\$([A-Za-z_]\w*)|\[\[([A-Za-z_]\w*)\]\]")
_LEGEND = re.compile(r"\{\{\s*([^{}\s]+)\s*\}\}")
_REGEX_META = re.compile(r"([\\.+*?()|\[\]{}^$])")


@dataclass(frozen=True, slots=True)
class VariableState:
    """The current choice for one variable: some values, or "all"."""

    values: tuple[str, ...] = ()
    is_all: bool = False

    def describe(self) -> str:
        if self.is_all:
            return "all"
        return ", ".join(self.values) if self.values else "none"


def escape_promql_string(text: str) -> str:
    """Escape for the inside of a double-quoted PromQL string."""
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def escape_regex(text: str) -> str:
    """Escape RE2 metacharacters so ``text`` matches literally."""
    return _REGEX_META.sub(r"\\\1", text)


def format_variable(variable: Variable, state: VariableState, fmt: str | None) -> str:
    """The text a reference expands to (always ready for a double-quoted PromQL string)."""
    if state.is_all or not state.values:  # nothing chosen reads as everything
        if fmt == "raw":
            return variable.all_value
        return escape_promql_string(variable.all_value)
    values = state.values
    if fmt == "raw":
        return ",".join(values)
    if fmt == "csv":
        return escape_promql_string(",".join(values))
    if fmt == "pipe":
        return escape_promql_string("|".join(values))
    if fmt == "regex" or (fmt is None and (variable.multi or variable.include_all)):
        if len(values) == 1:
            return escape_promql_string(escape_regex(values[0]))
        return escape_promql_string("(" + "|".join(escape_regex(v) for v in values) + ")")
    return escape_promql_string(values[0] if values else "")


def builtin_values(step: float, rate_interval: float, range_seconds: float) -> dict[str, str]:
    return {
        "__interval": format_duration(step),
        "__interval_ms": str(int(step * 1000)),
        "__rate_interval": format_duration(rate_interval),
        "__range": format_duration(range_seconds),
        "__range_s": str(int(range_seconds)),
    }


def substitute(
    text: str,
    variables: Mapping[str, Variable],
    states: Mapping[str, VariableState],
    builtins: Mapping[str, str] | None = None,
    *,
    for_display: bool = False,
) -> str:
    """Expand ``$var``, ``${var}``, ``${var:fmt}``, ``[[var]]`` and the builtins in ``text``.

    Unknown names are left as they are (``$1`` in ``label_replace`` is not a variable).
    ``for_display`` expands for people (titles): "all", or the values joined by commas.
    """
    builtins = builtins or {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3) or match.group(4)
        fmt = match.group(2)
        if name in builtins:
            return builtins[name]
        variable = variables.get(name)
        if variable is None:
            return match.group(0)
        state = states.get(name, VariableState(is_all=True))
        if for_display:
            return state.describe()
        return format_variable(variable, state, fmt)

    return _REF.sub(replace, text)


def format_legend(template: str | None, labels: Labels) -> str:
    """Grafana's legendFormat: ``{{label}}`` placeholders; default: the series selector."""
    if not template:
        return format_selector(labels)
    return _LEGEND.sub(lambda m: labels.get(m.group(1), ""), template)


_LABEL_VALUES = re.compile(r"^\s*label_values\(\s*(?:(.*)\s*,\s*)?([A-Za-z_][\w.]*)\s*\)\s*$",
                           re.DOTALL)


@dataclass(frozen=True, slots=True)
class LabelValuesQuery:
    label: str
    selector: str | None


def parse_variable_query(query: str) -> LabelValuesQuery:
    """``label_values(metric{...}, label)`` or ``label_values(label)``."""
    match = _LABEL_VALUES.match(query)
    if match is None:
        raise ValueError(
            f"unsupported variable query {query!r} "
            "(expected label_values(label) or label_values(selector, label))"
        )
    selector = match.group(1)
    return LabelValuesQuery(match.group(2), selector.strip() if selector else None)


def default_state(variable: Variable, choices: list[str] | None = None) -> VariableState:
    """What a variable starts as: its default, else all, else its first choice."""
    default = variable.default
    if default == "all" or (default is None and variable.include_all):
        return VariableState(is_all=True)
    if isinstance(default, list):
        return VariableState(tuple(default))
    if default is not None:
        return VariableState((default,))
    options = choices if choices is not None else variable.values
    if options:
        return VariableState((options[0],))
    return VariableState(is_all=True)
