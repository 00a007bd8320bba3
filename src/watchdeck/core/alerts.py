"""Alerts and silences: one model whether they come from Alertmanager, Prometheus or the
embedded engine, and the label matchers that filters and silences use."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

SEVERITY_ORDER = {"critical": 0, "error": 1, "page": 1, "high": 1, "warning": 2, "warn": 2,
                  "medium": 2, "info": 3, "low": 3, "none": 4}
STATE_ORDER = {"firing": 0, "pending": 1, "silenced": 2, "inhibited": 3}


def parse_time(text: str | None) -> float | None:
    """RFC 3339 (with nanoseconds, as Go writes it) to Unix seconds."""
    if not text:
        return None
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)$", text)
    if match is None:
        return None
    base, fraction, zone = match.groups()
    stamp = datetime.fromisoformat(base + ("+00:00" if zone == "Z" else zone))
    return stamp.timestamp() + (float(fraction) if fraction else 0.0)


def format_time(seconds: float) -> str:
    stamp = datetime.fromtimestamp(seconds, tz=timezone.utc)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z"


@dataclass(frozen=True, slots=True)
class Alert:
    labels: Mapping[str, str]
    annotations: Mapping[str, str] = field(default_factory=dict)
    state: str = "firing"  # firing | pending | silenced | inhibited
    active_at: float | None = None
    ends_at: float | None = None
    value: str | None = None
    fingerprint: str | None = None
    generator_url: str | None = None
    silenced_by: tuple[str, ...] = ()
    inhibited_by: tuple[str, ...] = ()
    receivers: tuple[str, ...] = ()
    source: str = ""
    origin: str = "alertmanager"  # alertmanager | prometheus | engine
    rule_expr: str | None = None
    rule_for: float | None = None

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "none")

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted(self.labels.items()))

    def age(self, now: float | None = None) -> float | None:
        if self.active_at is None:
            return None
        return max(0.0, (time.time() if now is None else now) - self.active_at)


def severity_rank(severity: str) -> int:
    return SEVERITY_ORDER.get(severity.lower(), 4)


@dataclass(frozen=True, slots=True)
class LabelMatcher:
    """One matcher of a silence or a filter: ``name="v"``, ``!=``, ``=~``, ``!~``."""

    name: str
    value: str
    is_regex: bool = False
    is_equal: bool = True

    @property
    def op(self) -> str:
        return {(False, True): "=", (False, False): "!=", (True, True): "=~",
                (True, False): "!~"}[(self.is_regex, self.is_equal)]

    def matches(self, labels: Mapping[str, str]) -> bool:
        value = labels.get(self.name, "")
        if self.is_regex:
            found = re.fullmatch(self.value, value, re.DOTALL) is not None
        else:
            found = value == self.value
        return found if self.is_equal else not found

    def check(self) -> None:
        """Raise ValueError when this matcher cannot be sent (bad name or regex)."""
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", self.name):
            raise ValueError(f"bad label name {self.name!r}")
        if self.is_regex:
            try:
                re.compile(self.value)
            except re.error as error:
                raise ValueError(f"invalid regular expression {self.value!r}: {error}") from None

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"')
        return f'{self.name}{self.op}"{escaped}"'


_MATCHER = re.compile(
    r'\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*'
    r'(?:"((?:[^"\\]|\\.)*)"|([^,\s"]*)(?=[\s,]|$))\s*')
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPED = {"n": "\n", '"': '"', "\\": "\\"}


def _unescape(quoted: str) -> str:
    """Alertmanager's escapes in a quoted value: ``\\n``, ``\\"`` and ``\\\\``; any other
    backslash stays (so a regex's ``\\.`` or ``\\b`` reaches Alertmanager as typed)."""
    return _ESCAPE.sub(lambda m: _ESCAPED.get(m.group(1), m.group(0)), quoted)


def parse_matchers(text: str) -> list[LabelMatcher]:
    """``severity="critical",model=~"llama.*"`` (quotes optional for simple values).
    A ValueError names the column (1-based, in ``text``) where reading stopped."""
    offset = len(text) - len(text.lstrip())
    text = text.strip()
    if text.startswith("{"):
        text, offset = text[1:], offset + 1
    text = text.removesuffix("}")
    matchers = []
    pos = 0
    while pos < len(text):
        match = _MATCHER.match(text, pos)
        if match is None:
            pos += len(text[pos:]) - len(text[pos:].lstrip())
            raise ValueError(f"cannot read a matcher at column {offset + pos + 1}: "
                             f"{text[pos:pos + 20]!r} (expected name=\"value\", "
                             'name!="value", name=~"re" or name!~"re")')
        name, op, quoted, bare = match.groups()
        value = _unescape(quoted) if quoted is not None else bare or ""
        matcher = LabelMatcher(name, value, is_regex=op in ("=~", "!~"),
                               is_equal=op in ("=", "=~"))
        matcher.check()
        matchers.append(matcher)
        pos = match.end()
        if pos < len(text):
            if text[pos] != ",":
                raise ValueError(f"expected ',' at column {offset + pos + 1}, after "
                                 f"{text[match.start():pos].strip()!r}")
            pos += 1
    return matchers


def matches_all(matchers: Sequence[LabelMatcher], labels: Mapping[str, str]) -> bool:
    return all(matcher.matches(labels) for matcher in matchers)


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[LabelMatcher, ...]
    starts_at: float
    ends_at: float
    created_by: str
    comment: str
    state: str = "active"  # active | pending | expired
    updated_at: float | None = None

    def catches(self, alert: Alert) -> bool:
        return matches_all(self.matchers, alert.labels)


def check_silence(matchers: Sequence[LabelMatcher], starts_at: float, ends_at: float,
                  comment: str, created_by: str, now: float | None = None) -> list[str]:
    """What is wrong with a silence before it is sent (empty when it can be sent)."""
    problems = []
    if not matchers:
        problems.append("a silence needs at least one matcher")
    valid = True
    for matcher in matchers:
        try:
            matcher.check()
        except ValueError as error:
            problems.append(str(error))
            valid = False
    if matchers and valid and all(m.matches({}) for m in matchers):
        # Alertmanager refuses these: they would silence alerts that lack the labels.
        problems.append("at least one matcher must not match an empty or missing label")
    if not comment.strip():
        problems.append("a comment is required (why, and a ticket if there is one)")
    if not created_by.strip():
        problems.append("the author is required")
    if ends_at <= starts_at:
        problems.append("the end must be after the start")
    now = time.time() if now is None else now
    if ends_at <= now:
        problems.append("the end must be in the future")
    return problems


def alerts_from_rules(data: object, source: str, origin: str) -> list[Alert]:
    """Alerts of a ``/api/v1/rules`` answer (Prometheus or the engine), each carrying its
    rule's expression and ``for``. Raises ValueError on a malformed answer."""
    if not isinstance(data, dict) or not isinstance(data.get("groups"), list):
        raise ValueError("rules answer without groups")
    out = []
    for group in data["groups"]:
        for rule in group.get("rules") or ():
            if rule.get("type") != "alerting":
                continue
            for raw in rule.get("alerts") or ():
                state = str(raw.get("state", "firing"))
                out.append(Alert(
                    labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
                    annotations={str(k): str(v)
                                 for k, v in (raw.get("annotations") or {}).items()},
                    state="pending" if state == "pending" else "firing",
                    active_at=parse_time(raw.get("activeAt")),
                    value=str(raw.get("value")) if raw.get("value") is not None else None,
                    source=source, origin=origin, rule_expr=str(rule.get("query", "")) or None,
                    rule_for=float(rule.get("duration") or 0.0),
                ))
    return out
