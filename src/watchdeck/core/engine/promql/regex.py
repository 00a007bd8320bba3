"""Prometheus's regular expressions (Go's RE2 syntax) on Python's ``re``.

The two dialects mostly agree, but not everywhere, and a difference would silently
select other series. :func:`translate` rewrites an RE2 pattern into Python syntax that
matches the same strings, refuses what RE2 refuses (lookarounds, backreferences,
possessive quantifiers... answered with :class:`InvalidRegex`, as Prometheus answers
them with an error), and refuses with :class:`UnsupportedRegex` the few RE2 features
this translation does not cover (Unicode classes like ``\\pL``, the ``U`` flag).

Rewritten: ``\\d \\w \\s`` and word boundaries are ASCII-only in RE2; ``(?i)`` in the
middle of a pattern applies to the rest of its group (Python only allows flags at the
very start); ``\\z``, ``\\Q...\\E``, ``\\x{...}``, octal escapes and POSIX classes like
``[[:alpha:]]`` have Python spellings; ``{,n}`` is a literal in RE2.
"""

from __future__ import annotations

import re
import warnings
from functools import lru_cache


class InvalidRegex(re.error):
    """A pattern RE2 rejects."""


class UnsupportedRegex(re.error):
    """Valid RE2 that the translation does not cover."""


_CLASS_ESCAPES = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}
_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
    "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
    "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_RE2_FLAGS = set("imsU")
_MAX_REPEAT = 1000


class _Translator:
    def __init__(self, pattern: str) -> None:
        self.src = pattern
        self.i = 0
        self.out: list[str] = []
        # For each open group: the scoped-flag groups opened inside it, which stand in
        # for RE2's bare "(?i)" and must be closed and reopened around each "|".
        self.groups: list[list[str]] = [[]]

    def fail(self, message: str) -> InvalidRegex:
        return InvalidRegex(f"error parsing regexp: {message}")

    def run(self) -> str:
        src = self.src
        while self.i < len(src):
            char = src[self.i]
            if char == "\\":
                self.escape()
            elif char == "[":
                self.char_class()
            elif char == "(":
                self.group_open()
            elif char == ")":
                if len(self.groups) == 1:
                    raise self.fail(f"unexpected ): `{self.src}`")
                self.out.append(")" * len(self.groups.pop()))
                self.out.append(")")
                self.i += 1
            elif char == "|":
                scoped = self.groups[-1]
                self.out.append(")" * len(scoped) + "|" + "".join(scoped))
                self.i += 1
            elif char == "{":
                self.brace()
            elif char in "*+?":
                self.out.append(char)
                self.i += 1
                self.check_after_quantifier()
            else:
                self.out.append(char)
                self.i += 1
        if len(self.groups) != 1:
            raise self.fail(f"missing closing ): `{self.src}`")
        self.out.append(")" * len(self.groups[0]))
        return "".join(self.out)

    def check_after_quantifier(self) -> None:
        src = self.src
        if self.i < len(src) and src[self.i] == "?":  # lazy: fine in both
            self.out.append("?")
            self.i += 1
        if self.i < len(src) and src[self.i] in "*+":
            raise self.fail(f"invalid nested repetition operator: `{src[self.i - 1:self.i + 1]}`")

    def brace(self) -> None:
        match = re.compile(r"\{(\d+)(,(\d*))?\}").match(self.src, self.i)
        if match is None:
            # RE2 reads a brace that does not start a repeat ({,3}, {a}) literally.
            self.out.append("\\{")
            self.i += 1
            return
        low = int(match.group(1))
        high = match.group(3)
        if low > _MAX_REPEAT or (high and int(high) > _MAX_REPEAT):
            raise self.fail(f"invalid repeat count: `{match.group(0)}`")
        if high and int(high) < low:
            raise self.fail(f"invalid repeat count: `{match.group(0)}`")
        self.out.append(match.group(0))
        self.i = match.end()
        self.check_after_quantifier()

    def group_open(self) -> None:
        src = self.src
        if not src.startswith("(?", self.i):
            self.out.append("(")
            self.groups.append([])
            self.i += 1
            return
        if src.startswith("(?P<", self.i):
            end = src.find(">", self.i)
            name = src[self.i + 4:end] if end > 0 else ""
            if end < 0 or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise self.fail(f"invalid named capture: `{src[self.i:end + 1]}`")
            self.out.append(src[self.i:end + 1])
            self.groups.append([])
            self.i = end + 1
            return
        match = re.compile(r"\(\?([A-Za-z]*)(?:-([A-Za-z]*))?([:)])").match(src, self.i)
        if match is None:
            # Lookarounds, comments, conditionals, atomic groups: not RE2.
            raise self.fail(f"invalid or unsupported Perl syntax: `{src[self.i:self.i + 3]}`")
        on, off, closer = match.group(1), match.group(2) or "", match.group(3)
        flags = set(on) | set(off)
        if not flags <= _RE2_FLAGS or (match.group(2) is not None and not off):
            raise self.fail(f"invalid or unsupported Perl syntax: `{match.group(0)}`")
        if "U" in flags:
            raise UnsupportedRegex("the U (ungreedy) flag in regular expressions")
        scoped = on + ("-" + off if off else "")
        self.i = match.end()
        if closer == ":":
            self.out.append(f"(?{scoped}:" if scoped else "(?:")
            self.groups.append([])
        elif scoped:
            # RE2 applies bare flags to the rest of the enclosing group; Python only
            # accepts them at the very start of the whole pattern.
            self.out.append(f"(?{scoped}:")
            self.groups[-1].append(f"(?{scoped}:")

    def escape(self) -> None:
        src = self.src
        if self.i + 1 >= len(src):
            raise self.fail("trailing backslash at end of expression: ``")
        kind = src[self.i + 1]
        self.i += 2
        if kind in "dws":
            self.out.append(f"[{_CLASS_ESCAPES[kind]}]")
        elif kind in "DWS":
            self.out.append(f"[^{_CLASS_ESCAPES[kind.lower()]}]")
        elif kind in "bB":
            self.out.append(f"(?a:\\{kind})")
        elif kind == "z":
            self.out.append("\\Z")
        elif kind == "A":
            self.out.append("\\A")
        elif kind == "Q":
            end = src.find("\\E", self.i)
            literal = src[self.i:] if end < 0 else src[self.i:end]
            self.out.append(re.escape(literal))
            self.i = len(src) if end < 0 else end + 2
        elif kind in "pPC":
            raise UnsupportedRegex(f"\\{kind} in regular expressions")
        elif kind == "x":
            self.out.append(self.hex_escape())
        elif kind in "01234567":
            self.out.append(self.octal_escape(kind))
        elif kind in "89":
            raise self.fail(f"invalid escape sequence: `\\{kind}`")
        elif kind in "aftnrv":
            self.out.append("\\" + kind)
        elif kind.isascii() and kind.isalnum():
            raise self.fail(f"invalid escape sequence: `\\{kind}`")
        elif kind.isascii():
            self.out.append("\\" + kind)
        else:
            raise self.fail(f"invalid escape sequence: `\\{kind}`")

    def hex_escape(self) -> str:
        src = self.src
        if src.startswith("{", self.i):
            end = src.find("}", self.i)
            digits = src[self.i + 1:end] if end > 0 else ""
            if not re.fullmatch(r"[0-9A-Fa-f]+", digits) or int(digits, 16) > 0x10FFFF:
                raise self.fail("invalid escape sequence: `\\x{`")
            self.i = end + 1
            return re.escape(chr(int(digits, 16)))
        digits = src[self.i:self.i + 2]
        if not re.fullmatch(r"[0-9A-Fa-f]{2}", digits):
            raise self.fail("invalid escape sequence: `\\x`")
        self.i += 2
        return re.escape(chr(int(digits, 16)))

    def octal_escape(self, first: str) -> str:
        src = self.src
        # Go: \1-\7 alone would be a backreference, which RE2 does not have.
        if first != "0" and not (self.i < len(src) and src[self.i] in "01234567"):
            raise self.fail(f"invalid escape sequence: `\\{first}`")
        digits = first
        while len(digits) < 3 and self.i < len(src) and src[self.i] in "01234567":
            digits += src[self.i]
            self.i += 1
        return re.escape(chr(int(digits, 8)))

    def char_class(self) -> None:
        src = self.src
        self.i += 1
        parts = ["["]
        if self.i < len(src) and src[self.i] == "^":
            parts.append("^")
            self.i += 1
        first = True
        while True:
            if self.i >= len(src):
                raise self.fail(f"missing closing ]: `{src}`")
            char = src[self.i]
            if char == "]" and not first:
                self.i += 1
                break
            first = False
            if src.startswith("[:", self.i):
                end = src.find(":]", self.i + 2)
                name = src[self.i + 2:end] if end > 0 else ""
                if name.startswith("^"):
                    raise UnsupportedRegex("negated POSIX classes in regular expressions")
                if name in _POSIX:
                    parts.append(_POSIX[name])
                    self.i = end + 2
                    continue
                if end > 0 and re.fullmatch(r"[a-z]+", name):
                    raise self.fail(f"invalid character class range: `[:{name}:]`")
                parts.append("\\[")
                self.i += 1
                continue
            if char == "\\":
                if self.i + 1 >= len(src):
                    raise self.fail("trailing backslash at end of expression: ``")
                kind = src[self.i + 1]
                if kind in "dws":
                    parts.append(_CLASS_ESCAPES[kind])
                    self.i += 2
                elif kind in "DWSpPQ":
                    raise UnsupportedRegex(f"\\{kind} inside a character class")
                elif kind == "x":
                    self.i += 2
                    parts.append(self.hex_escape())
                elif kind in "01234567":
                    self.i += 2
                    parts.append(self.octal_escape(kind))
                elif kind in "aftnrv":
                    parts.append("\\" + kind)
                    self.i += 2
                elif kind.isascii() and kind.isalnum():
                    raise self.fail(f"invalid escape sequence: `\\{kind}`")
                else:
                    parts.append("\\" + kind)
                    self.i += 2
                continue
            if char in "[&~|":
                parts.append("\\" + char)  # literal in RE2; Python may warn or, later, differ
            else:
                parts.append(char)
            self.i += 1
        parts.append("]")
        self.out.append("".join(parts))


@lru_cache(maxsize=1024)
def translate(pattern: str) -> str:
    """Python ``re`` source matching what RE2 matches for ``pattern`` (not anchored)."""
    translated = _Translator(pattern).run()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            re.compile(translated)
    except re.error as error:
        raise InvalidRegex(f"error parsing regexp: {error}: `{pattern}`") from None
    return translated


@lru_cache(maxsize=1024)
def compile_anchored(pattern: str) -> re.Pattern[str]:
    """Prometheus 2.42 anchors label regexes at both ends (``^(?:...)$``); ``.`` does not
    match a newline. Use with ``fullmatch``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return re.compile(f"(?:{translate(pattern)})")
