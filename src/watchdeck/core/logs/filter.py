"""What a logs panel shows (``/`` filter) and what it highlights (``f`` search).

Filter syntax: terms separated by blanks, all of which must hold.

* ``word`` — the line holds it (smart case: case-sensitive only if it has an upper-case
  letter); ``"a phrase"`` — the same with blanks (``\\"`` and ``\\\\`` inside quotes);
* ``/regex/`` — a Python regular expression found in the line (smart case too; ``/re/i``
  ignores case). It ends at a ``/`` followed by a blank or the end, so ``/api/v1`` is a
  word, while ``/api/v1/`` is a regex;
* ``level>=warn`` — with ``= != > >= < <=`` and any level spelling (``w``, ``warning``,
  ``err``, ``4``); ``level=~re`` matches the level's name;
* ``field=value`` ``field!=value`` (exact, case-sensitive), ``field=~re`` ``field!~re``
  (found anywhere in the value, case as written: ``(?i)`` or ``field=~/re/i`` ignores
  it), ``field>=10`` (numbers). A field is one of ``level``, ``source``, ``trace_id``,
  ``span_id`` (compared ignoring case), ``msg``/``message``, else the record's fields,
  else its labels; a missing one reads as ``""`` (as in Loki), so
  ``field!=""`` means "has it". Comparisons need a number and are false for values that
  are not numbers;
* ``-term`` — any term negated. Quote a word that starts with ``-`` or ``"``, ends with
  ``/`` after a leading ``/``, or follows ``name`` with an operator (``"a=b"``).

Words and regexes look in :func:`record_text` (the line as it came, JSON syntax and all);
field terms look at what was read from it, so a plain line has no fields (``"k=v"`` in
quotes finds that text in it). Gaps (lines known to be missing) stay visible: only
``source`` terms are tested on them, every other term holds for a gap.

A search is one text (blanks included) or one ``/regex/``; it reports the spans to
highlight and whether a record has any (in its message or ``key=value`` fields).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

from watchdeck.core.logs.model import Level, LogGap, LogItem, LogRecord, parse_level, record_text
from watchdeck.core.logs.parse import LineRecord

MAX_SPANS = 256
_FIELD = re.compile(r"([A-Za-z_@][\w.@-]*)(=~|!~|>=|<=|!=|=|>|<)")
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
# Escapes that name a character by its code (it may be an upper-case letter).
_CODED = re.compile(r"\\[xuUN0-7]")
_SPECIAL = ("level", "source", "trace_id", "span_id", "msg", "message")

Test = Callable[[LogRecord], bool]


class FilterError(ValueError):
    """A filter or search that cannot be read; ``position`` counts from 0."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at character {position + 1})")
        self.position = position


@dataclass(frozen=True, slots=True)
class Term:
    """One term: how it is written back, and its test on records (and on gaps, for the
    terms that apply to them)."""

    text: str
    test: Test
    gap_test: Callable[[LogGap], bool] | None = None
    negated: bool = False

    def describe(self) -> str:
        return f"-{self.text}" if self.negated else self.text


class Filter:
    """Terms that must all hold. ``matches(item)`` is a plain function (fast to call)."""

    matches: Callable[[LogItem], bool]

    def __init__(self, terms: list[Term]) -> None:
        self.terms = terms
        self.matches = _combine(terms)

    def describe(self) -> str:
        return " ".join(term.describe() for term in self.terms)

    def __repr__(self) -> str:
        return f"Filter({self.describe()!r})"


def parse_filter(text: str) -> Filter:
    """``text`` as a :class:`Filter`; :class:`FilterError` (a ``ValueError``) says what
    is wrong and where."""
    terms: list[Term] = []
    pos, size = 0, len(text)
    while True:
        while pos < size and text[pos].isspace():
            pos += 1
        if pos >= size:
            return Filter(terms)
        negated = text[pos] == "-"
        if negated:
            if pos + 1 >= size or text[pos + 1].isspace():
                raise FilterError("'-' needs a term right after it", pos)
            pos += 1
        term, end = _term(text, pos)
        if end < size and not text[end].isspace():
            raise FilterError("expected a blank after this term", end)
        if negated:
            positive = term.test
            gap = term.gap_test
            term = Term(term.text, lambda record, t=positive: not t(record),
                        (lambda item, g=gap: not g(item)) if gap is not None else None, True)
        terms.append(term)
        pos = end


def _combine(terms: list[Term]) -> Callable[[LogItem], bool]:
    tests = tuple(term.test for term in terms)
    gap_tests = tuple(term.gap_test for term in terms if term.gap_test is not None)

    def on_gap(gap: LogGap) -> bool:
        return all(test(gap) for test in gap_tests)

    if not tests:
        return lambda item: True
    if len(tests) == 1:
        only = tests[0]

        def matches_one(item: LogItem) -> bool:
            if item.__class__ is LogGap:
                return on_gap(item)  # type: ignore[arg-type]
            return only(item)  # type: ignore[arg-type]

        return matches_one

    def matches_all(item: LogItem) -> bool:
        if item.__class__ is LogGap:
            return on_gap(item)  # type: ignore[arg-type]
        for test in tests:  # noqa: SIM110 (a loop is faster than all() and a generator)
            if not test(item):  # type: ignore[arg-type]
                return False
        return True

    return matches_all


# ---------------------------------------------------------------------- terms

def _term(text: str, pos: int) -> tuple[Term, int]:
    first = text[pos]
    if first == '"':
        value, end = _quoted(text, pos)
        return _word_term(value, True, pos), end
    if first == "/":
        closed = _regex_end(text, pos)
        if closed is not None:
            pattern, flags, end = closed
            return _regex_term(pattern, flags, pos), end
    field = _FIELD.match(text, pos)
    if field is not None:
        return _field_term(text, field)
    end = _word_end(text, pos)
    return _word_term(text[pos:end], False, pos), end


def _word_end(text: str, pos: int) -> int:
    end = pos
    while end < len(text) and not text[end].isspace():
        end += 1
    return end


def _quoted(text: str, pos: int) -> tuple[str, int]:
    """The string in quotes at ``pos``: ``\\"`` and ``\\\\`` are escapes, any other
    backslash is kept (so regexes read as written)."""
    out: list[str] = []
    index = pos + 1
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in '"\\':
            out.append(text[index + 1])
            index += 2
            continue
        if char == '"':
            return "".join(out), index + 1
        out.append(char)
        index += 1
    raise FilterError("this quote is never closed", pos)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_term(value: str) -> str:
    """``value`` as one filter word that matches it as text, whatever it holds (quotes,
    blanks, a leading ``-``, ``=``)."""
    return _quote(value)


def _regex_end(text: str, pos: int) -> tuple[str, str, int] | None:
    """``/pattern/`` or ``/pattern/i`` at ``pos``, ended by a blank or the end."""
    index, size = pos + 1, len(text)
    while index < size:
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == "/":
            after = index + 1
            if after >= size or text[after].isspace():
                return text[pos + 1:index], "", after
            if text[after] == "i" and (after + 1 >= size or text[after + 1].isspace()):
                return text[pos + 1:index], "i", after + 1
        index += 1
    return None


def _smart_case(text: str) -> bool:
    """Whether ``text`` asks for case to count: an upper-case letter not escaped."""
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char.isupper():
            return True
        index += 1
    return False


def _compile(pattern: str, ignore_case: bool, pos: int) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE if ignore_case else 0)
    except re.error as error:
        where = pos + (error.pos or 0)
        raise FilterError(f"bad regex /{pattern}/: {error.msg}", where) from None
    except (OverflowError, RecursionError, ValueError) as error:
        raise FilterError(f"bad regex /{pattern}/: {error}", pos) from None


def _text_of(record: LogRecord) -> str:
    line = record.line
    return line if line else record_text(record)


def _word_term(word: str, quoted: bool, pos: int) -> Term:
    if not word:
        raise FilterError("empty quotes find nothing", pos)
    if _smart_case(word):
        def test(record: LogRecord) -> bool:
            line = record.line
            return word in (line if line else record_text(record))
    else:
        needle = word.lower()

        def test(record: LogRecord) -> bool:
            line = record.line
            return needle in (line if line else record_text(record)).lower()

    # A bare word can start with "-" only after a negating "-": it needs quotes alone.
    return Term(_quote(word) if quoted or word[0] == "-" else word, test)


def _regex_term(pattern: str, flags: str, pos: int) -> Term:
    if not pattern:
        raise FilterError("empty regex", pos)
    written = f"/{pattern}/{flags}"
    if flags != "i" and not _smart_case(pattern) and not _CODED.search(pattern):
        # No upper-case letter in it: searching the lower-cased line finds what ignoring
        # case would, and keeps re's fast literal scan (IGNORECASE loses it).
        search = _compile(pattern, False, pos + 1).search
        return Term(written, lambda record: search(_text_of(record).lower()) is not None)
    search = _compile(pattern, flags == "i" or not _smart_case(pattern), pos + 1).search
    return Term(written, lambda record: search(_text_of(record)) is not None)


def _field_term(text: str, field: re.Match[str]) -> tuple[Term, int]:
    name, operator = field.group(1), field.group(2)
    pos = field.end()
    regex = operator in ("=~", "!~")
    if text[pos:pos + 1] == '"':
        value, end = _quoted(text, pos)
    elif regex and text[pos:pos + 1] == "/" and (closed := _regex_end(text, pos)) is not None:
        value, _flags, end = closed
        if _flags:
            value = f"(?i){value}"
    else:
        end = _word_end(text, pos)
        value = text[pos:end]
    written = f"{name}{operator}{_written_value(value, regex)}"
    if name == "level":
        return _level_term(written, operator, value, pos), end
    read = _reader(name)
    if regex:
        search = _compile(value, False, pos).search
        if operator == "=~":
            test: Test = lambda record: search(read(record)) is not None  # noqa: E731
        else:
            test = lambda record: search(read(record)) is None  # noqa: E731
    elif operator in ("=", "!="):
        test = _equality(name, value, read, operator == "=")
    else:
        number = _number(value)
        if number is None:
            raise FilterError(f"'{operator}' compares numbers (or levels): "
                              f"'{value}' is not a number", pos)
        test = _comparison(operator, number, name, read)
    gap_test = None
    if name == "source":
        gap_test = _gap_source_test(operator, value)
    return Term(written, test, gap_test), end


def _written_value(value: str, regex: bool) -> str:
    if (not value or any(char.isspace() for char in value) or value[0] == '"'
            or (regex and value[0] == "/")):
        return _quote(value)
    return value


def _reader(name: str) -> Callable[[LogRecord], str]:
    if name == "source":
        return lambda record: record.source
    if name == "trace_id":
        return lambda record: (record.trace_id or "").lower()
    if name == "span_id":
        return lambda record: (record.span_id or "").lower()
    if name in ("msg", "message"):
        return lambda record: record.message

    def read(record: LogRecord) -> str:
        fields = record.fields
        if fields is not None:
            value = fields.get(name)
            if value is not None:
                return value
        labels = record.labels
        if labels is not None:
            return labels.get(name, "")
        return ""

    return read


def _equality(name: str, value: str, read: Callable[[LogRecord], str], equal: bool) -> Test:
    if name in ("trace_id", "span_id"):
        value = value.lower()
    if name in _SPECIAL or not value or value[0] in "[{" or (
            _number(value) is not None and not value.lstrip("-").isdigit()):
        if equal:
            return lambda record: read(record) == value
        return lambda record: read(record) != value

    # A compact record's fields are read from its line, where a value is written as it is
    # read (but for escapes, and numbers other than integers, left out above): when it is
    # not in the line and no label has that name, the line need not be read.
    def holds(record: LogRecord) -> bool:
        if record.__class__ is LineRecord:
            line = record.line
            labels = record.labels
            if value not in line and "\\" not in line and (labels is None or name not in labels):
                return False
        return read(record) == value

    if equal:
        return holds
    return lambda record: not holds(record)


def _number(text: str) -> float | None:
    if _NUMBER.fullmatch(text.strip()) is None:
        return None
    try:
        number = float(text)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def _comparison(operator: str, number: float, name: str,
                read: Callable[[LogRecord], str]) -> Test:
    compare = {">": float.__gt__, ">=": float.__ge__, "<": float.__lt__,
               "<=": float.__le__}[operator]
    leaf = name.rsplit(".", 1)[-1]  # what the line holds of a flattened key

    def test(record: LogRecord) -> bool:
        if record.__class__ is LineRecord and name not in _SPECIAL:
            line = record.line
            labels = record.labels
            if leaf not in line and "\\" not in line and (labels is None or name not in labels):
                return False  # no such key in the line: the field is missing
        found = _number(read(record))
        return found is not None and compare(found, number)

    return test


def _gap_source_test(operator: str, value: str) -> Callable[[LogGap], bool]:
    if operator == "=":
        return lambda gap: gap.source == value
    if operator == "!=":
        return lambda gap: gap.source != value
    if operator in ("=~", "!~"):
        search = re.compile(value).search
        if operator == "=~":
            return lambda gap: search(gap.source) is not None
        return lambda gap: search(gap.source) is None
    return lambda gap: True


def _level_term(written: str, operator: str, value: str, pos: int) -> Term:
    if operator in ("=~", "!~"):
        search = _compile(value, not _smart_case(value), pos).search
        if operator == "=~":
            return Term(written, lambda record: search(record.level.label) is not None)
        return Term(written, lambda record: search(record.level.label) is None)
    key = value.strip().lower()
    level = Level.UNKNOWN if key in ("", "unknown", "none") else parse_level(key)
    if level is Level.UNKNOWN and key not in ("", "unknown", "none"):
        raise FilterError(f"'{value}' is not a level (trace, debug, info, warn, error, "
                          "fatal)", pos)
    rank = int(level)
    tests: dict[str, Test] = {
        "=": lambda record: record.level == rank,
        "!=": lambda record: record.level != rank,
        ">": lambda record: record.level > rank,
        ">=": lambda record: record.level >= rank,
        "<": lambda record: record.level < rank,
        "<=": lambda record: record.level <= rank,
    }
    return Term(written, tests[operator])


# ---------------------------------------------------------------------- search

class Search:
    """One text or regex to highlight: ``spans(text)`` where it is, ``matches(item)``
    whether an item shows it (message, ``key=value`` fields; a gap's reason)."""

    def __init__(self, written: str, pattern: re.Pattern[str] | None, needle: str,
                 ignore_case: bool) -> None:
        self.written = written
        self._pattern = pattern
        self._needle = needle.lower() if ignore_case else needle
        self._ignore_case = ignore_case
        self._folding = re.compile(re.escape(needle), re.IGNORECASE) if ignore_case else None

    def describe(self) -> str:
        return self.written

    def __repr__(self) -> str:
        return f"Search({self.written!r})"

    def _found(self, text: str) -> bool:
        if self._pattern is not None:
            return self._pattern.search(text) is not None
        return self._needle in (text.lower() if self._ignore_case else text)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the search is in ``text``: (start, end) pairs, in order, not overlapping,
        none empty, at most :data:`MAX_SPANS`."""
        pattern = self._pattern
        if pattern is None and self._ignore_case:
            folded = text.lower()
            if len(folded) != len(text):  # lower() moved offsets: let re fold case
                pattern = self._folding
            else:
                return _find_all(folded, self._needle)
        if pattern is None:
            return _find_all(text, self._needle)
        spans: list[tuple[int, int]] = []
        for found in pattern.finditer(text):
            start, end = found.span()
            if end > start:
                spans.append((start, end))
                if len(spans) >= MAX_SPANS:
                    break
        return spans

    def matches(self, item: LogItem) -> bool:
        if isinstance(item, LogGap):
            return self._found(item.reason)
        # A plain needle that is not in the line as it came is in neither its message nor
        # its field values (both are read from it verbatim): no need to read them again.
        line = item.line
        if (line and self._pattern is None and "=" not in self._needle and "\\" not in line
                and not self._found(line)):
            return False
        if self._found(item.message):
            return True
        fields = item.fields
        return bool(fields) and any(self._found(f"{key}={value}")
                                    for key, value in fields.items())  # type: ignore[union-attr]


def _find_all(text: str, needle: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    size = len(needle)
    at = text.find(needle)
    while at >= 0 and len(spans) < MAX_SPANS:
        spans.append((at, at + size))
        at = text.find(needle, at + size)
    return spans


def parse_search(text: str) -> Search:
    """``text`` as a :class:`Search`: ``/regex/`` (``/regex/i``), ``"quoted"`` (to find
    slashes or blanks at the ends), else the text itself; smart case in all three."""
    written = text.strip()
    if not written:
        raise FilterError("nothing to find", 0)
    if written[0] == "/" and len(written) > 1:
        closed = _regex_end(written, 0)
        if closed is not None and closed[2] == len(written):
            pattern, flags, _ = closed
            if not pattern:
                raise FilterError("empty regex", 0)
            ignore = flags == "i" or not _smart_case(pattern)
            return Search(written, _compile(pattern, ignore, 1), pattern, ignore)
    needle = written
    if written[0] == '"':
        needle, end = _quoted(written, 0)
        if end != len(written):
            raise FilterError("expected the end after the closing quote", end)
        if not needle:
            raise FilterError("nothing to find", 0)
    return Search(written, None, needle, not _smart_case(needle))


__all__ = ["MAX_SPANS", "Filter", "FilterError", "Search", "Term", "parse_filter",
           "parse_search"]
