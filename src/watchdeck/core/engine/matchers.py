"""Label matchers (``=``, ``!=``, ``=~``, ``!~``) with Prometheus's anchored regexes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

OPS = ("=", "!=", "=~", "!~")


@lru_cache(maxsize=1024)
def compile_anchored(pattern: str) -> re.Pattern[str]:
    """Prometheus anchors label regexes at both ends and lets ``.`` match newlines."""
    return re.compile(f"(?s:{pattern})")


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
