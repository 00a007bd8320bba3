"""Which panels and layouts an alert is about.

An alert names its metrics in its rule's expression (Prometheus and the engine give it;
for Alertmanager alerts it is in the generator URL's ``g0.expr``). A panel is about an
alert when it lists the alert by name, or when its queries read one of those metrics and
no label matcher of the panel excludes the alert's labels. Jumping from an alert picks the
layout its ``watchdeck_layout`` annotation names, else the layout with most such panels,
and sets the layout's variables from the alert's labels.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qs, urlsplit

from watchdeck.core.alerts import Alert
from watchdeck.core.config.models import Layout, PanelBase
from watchdeck.core.templating import VariableState, parse_variable_query

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_BRACES = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]")
# Label lists of grouping and matching clauses: ``sum by (le, instance)``, ``on (job)``.
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_:])\d[0-9A-Za-z_.]*")  # 0.99, 5m, 1e3, 0x1f
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
             "and", "or", "unless", "inf", "nan"}
_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")
_MATCHER = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')


def _base(name: str) -> str:
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def metric_names(expr: str) -> set[str]:
    """Metric names an expression reads (suffixes like _bucket folded away)."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    text = _NUMBER.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end():].lstrip()
        word = match.group()
        if rest.startswith("(") or word.lower() in _KEYWORDS or word[0].isdigit():
            continue
        names.add(_base(word))
    return names


def alert_expr(alert: Alert) -> str | None:
    if alert.rule_expr:
        return alert.rule_expr
    if alert.generator_url:
        found = parse_qs(urlsplit(alert.generator_url).query).get("g0.expr")
        if found:
            return found[0]
    return None


def _excluded(expr: str, labels: Mapping[str, str]) -> bool:
    """Whether a literal matcher of ``expr`` rules out ``labels`` (variables are skipped)."""
    for name, op, value in _MATCHER.findall(expr):
        if "$" in value or name not in labels:
            continue
        actual = labels[name]
        if op == "=" and actual != value or op == "!=" and actual == value:
            return True
        if op in ("=~", "!~"):
            try:
                found = re.fullmatch(value, actual) is not None
            except re.error:
                continue
            if found != (op == "=~"):
                return True
    return False


def panel_is_about(panel: PanelBase, alert: Alert) -> bool:
    if alert.name and alert.name in panel.alerts:
        return True
    expr = alert_expr(alert)
    if not expr or not panel.queries:
        return False
    wanted = metric_names(expr)
    for query in panel.queries:
        if metric_names(query.expr) & wanted and not _excluded(query.expr, alert.labels):
            return True
    return False


def best_layout(layouts: Iterable[tuple[str, Layout]], alert: Alert) -> str | None:
    """The layout to jump to from ``alert``."""
    layouts = list(layouts)
    named = alert.annotations.get("watchdeck_layout")
    if named and any(name == named for name, _ in layouts):
        return named
    scored = [(sum(panel_is_about(p, alert) for p in layout.panels), name)
              for name, layout in layouts]
    scored = [(score, name) for score, name in scored if score > 0]
    if not scored:
        return None
    return max(scored, key=lambda item: (item[0], -len(item[1])))[1]


def variables_for(layout: Layout, alert: Alert) -> dict[str, VariableState]:
    """Variable choices that narrow ``layout`` to the alert (by the labels they list)."""
    states = {}
    for variable in layout.variables:
        if variable.query is None:
            continue
        try:
            label = parse_variable_query(variable.query).label
        except ValueError:
            continue
        value = alert.labels.get(label)
        if value:
            states[variable.name] = VariableState((value,))
    return states
