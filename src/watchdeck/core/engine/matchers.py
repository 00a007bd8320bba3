"""Label matchers (``=``, ``!=``, ``=~``, ``!~``) with Prometheus's anchored regexes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

OPS = ("=", "!=", "=~", "!~")


@lru_cache(maxsize=1024)
def compile_anchored(pattern: str) -> re.Pattern[str]:
    """Prometheus anchors label regexes at both ends (use with ``fullmatch``). Patterns
    are RE2 syntax, translated for Python's ``re`` (``(?i)`` inside the anchoring group,
    ASCII ``\\d``/``\\w``...); in Prometheus 2.42 ``.`` does not match a newline."""
    # Imported here: the promql package imports this module.
    from watchdeck.core.engine.promql.regex import compile_anchored as compile_re2

    return compile_re2(pattern)


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ValueError(f"unknown matcher operator {self.op!r}")
        if self.op in ("=~", "!~"):
            try:
                object.__setattr__(self, "_regex", compile_anchored(self.value))
            except re.error as error:
                raise ValueError(f"invalid regular expression {self.value!r}: {error}") from None

    def matches(self, value: str) -> bool:
        """Whether a label value matches. A missing label is the empty string."""
        op = self.op
        if op == "=":
            return value == self.value
        if op == "!=":
            return value != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(value) is not None
        return found if op == "=~" else not found

    def matches_empty(self) -> bool:
        return self.matches("")

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.op}"{escaped}"'
