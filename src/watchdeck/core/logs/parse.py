"""Turn one line of text into a :class:`LogRecord`: JSON lines, logfmt, plain text.

* **JSON** objects (also after a leading timestamp, as ``kubectl logs --timestamps`` and CRI
  log files write them): message, level, time, trace and span id under their usual names
  (:data:`MESSAGE_KEYS` …); every other key becomes a field. Nested objects are flattened to
  dotted keys (``{"http": {"status": 500}}`` → ``http.status=500``, so ECS's ``log.level``
  and ``trace.id`` are found) down to :data:`FLATTEN_DEPTH` levels, deeper ones and arrays
  are kept as compact JSON text. Field values are strings: strings as they are, numbers as
  Python writes them (``1.50`` → ``1.5``; too large for a float: as written),
  ``true``/``false``/``null`` as in JSON. Arrays and scalars on a line stay plain text.
* **logfmt** (Go slog, logrus, Heroku): only when the whole line is ``key=value`` pairs
  (values quoted with ``"`` and Go escapes) and there are two of them or one names the
  level or message.
* **Plain text**: a time at the start (RFC 3339/ISO with ``T`` or space, ``2026/11/26
  06:42:45``, syslog ``Nov 26 06:42:45``, klog ``I1126 06:42:45.123456``, vLLM ``11-26
  06:42:45``, ctime ``Thu Nov 26 06:42:45 2026``, epoch seconds or milliseconds, any of
  them in brackets), also after a leading level word, or the common log format's
  ``[26/Nov/2026:06:42:45 +0000]`` near the start; the level from klog's letter, a
  syslog ``<6>``, the first word (any case), an upper-case or bracketed level word near
  the start, or ``level=`` anywhere; trace and span ids written ``trace_id=…``.

Times without a zone are local times (as lnav reads them); a year-less time takes the year
that puts it at most two days ahead of when the line arrived. A time found in the line wins
over ``received_ns``; a time the backend gives (``time_ns``) wins over both.

Text is never changed but for cutting to :data:`MAX_LINE_CHARS` (escape sequences and
controls stay as they came: neutralising them is the UI's job); :func:`parse_line` never
raises, and reads no more of a line than that.

:func:`compact` turns a parsed structured record into a :class:`LineRecord`, which keeps
the line and reads message, fields and ids from it again when asked: what the buffer
stores.
"""

from __future__ import annotations

import json
import re
import time
from datetime import date
from functools import lru_cache
from typing import Any

import msgspec

from watchdeck.core.logs.model import (
    MAX_LINE_CHARS,
    Level,
    LogRecord,
    cut,
    level_from_otlp,
    parse_level,
)

MESSAGE_KEYS = ("msg", "message", "MESSAGE", "log", "text", "@message", "body")
LEVEL_KEYS = ("level", "severity", "lvl", "loglevel", "log.level", "@level", "levelname",
              "PRIORITY", "severity_text", "severityText")
OTLP_LEVEL_KEYS = ("severity_number", "severityNumber")
TIME_KEYS = ("ts", "time", "timestamp", "@timestamp", "t", "_SOURCE_REALTIME_TIMESTAMP",
             "__REALTIME_TIMESTAMP", "timeUnixNano")
TRACE_KEYS = ("trace_id", "traceId", "traceID", "trace.id", "otelTraceID", "dd.trace_id")
SPAN_KEYS = ("span_id", "spanId", "spanID", "span.id", "otelSpanID", "dd.span_id")
# Every key parse_line may take out of a structured line (the rest stay in ``fields``).
TAKEN_KEYS = frozenset(MESSAGE_KEYS + LEVEL_KEYS + OTLP_LEVEL_KEYS + TIME_KEYS + TRACE_KEYS
                       + SPAN_KEYS)
FLATTEN_DEPTH = 4
# pino/bunyan write the level as a number.
_PINO_LEVELS = {10: Level.TRACE, 20: Level.DEBUG, 30: Level.INFO, 40: Level.WARN,
                50: Level.ERROR, 60: Level.FATAL}

# What _read returns: message, fields, trace id, span id, level, time (ns) or None.
Reading = tuple[str, "dict[str, str] | None", "str | None", "str | None", Level, "int | None"]


def decode(raw: bytes) -> str:
    """Bytes from a backend as text: invalid UTF-8 kept visible (``\\xff``), never raised."""
    return raw.decode("utf-8", errors="backslashreplace")


def parse_line(text: str, *, source: str = "", seq: int = 0, received_ns: int = 0,
               labels: dict[str, str] | None = None, time_ns: int | None = None
               ) -> LogRecord:
    """``text`` (one line, no newline) as a record. ``time_ns``, when the backend gives the
    time (Loki, OTLP), wins over a time found in the line; else the line's own time, else
    ``received_ns``. ``record.line`` is the (cut) text; ``record.parsed`` what was read
    from it, so :func:`compact` can tell whether the record changed since."""
    text = text.rstrip("\r\n")
    if len(text) > MAX_LINE_CHARS:
        text = cut(text)
    message, fields, trace_id, span_id, level, found_ns = _read(text, received_ns)
    if time_ns is None:
        time_ns = found_ns if found_ns is not None else received_ns
    record = LogRecord(time_ns, message, level, fields, labels, trace_id, span_id, source, seq,
                       text)
    record.parsed = (message, None if fields is None else dict(fields), trace_id, span_id)
    return record


def parse_compact(text: str, *, source: str = "", seq: int = 0, received_ns: int = 0,
                  labels: dict[str, str] | None = None, time_ns: int | None = None
                  ) -> LogRecord:
    """What :func:`parse_line` then :func:`compact` give, for the sources that read lines
    by the hundred thousand (files, commands): a JSON line whose level and time are plain
    top-level keys becomes a :class:`LineRecord` at once, reading only those two (message,
    fields and ids are read when a panel shows or filters the line); anything else goes
    the whole way. Equal to ``compact(parse_line(...))`` either way."""
    line = text.rstrip("\r\n")
    if line[:1] == "{" and len(line) <= MAX_LINE_CHARS:
        quick = _quick_json(line)
        if quick is not None:
            level, found_ns = quick
            small = LineRecord.__new__(LineRecord)
            small.time_ns = time_ns if time_ns is not None else (
                found_ns if found_ns is not None else received_ns)
            small.level = level
            small.labels = labels
            small.source = source
            small.seq = seq
            small.line = line
            small.parsed = None
            for put in _SET.values():
                put(small, _UNREAD)
            return small
    return compact(parse_line(text, source=source, seq=seq, received_ns=received_ns,
                              labels=labels, time_ns=time_ns))


def _quick_json(line: str) -> tuple[Level, int | None] | None:
    """(level, time) of a JSON object line when both are read as :func:`_structured` would
    read them from top-level keys; None when that is not certain (the full read decides)."""
    try:
        data = msgspec.json.decode(line if line.isascii() else line.encode())
    except (msgspec.MsgspecError, ValueError):
        return None
    if type(data) is not dict or any(type(value) is dict for value in data.values()):
        return None  # nested objects are flattened into dotted keys by the full read
    level = None
    for key in LEVEL_KEYS:
        value = data.get(key)
        if type(value) is str:
            found = parse_level(value)
        elif type(value) is int:
            found = _PINO_LEVELS.get(value, Level.UNKNOWN)
        else:
            continue
        if found is not Level.UNKNOWN:
            level = found
            break
    if level is None:
        return None  # OTLP numbers, nested keys, the message's words: the full read
    for key in TIME_KEYS:
        if key in data:
            found_ns = _time_value(data[key])
            if found_ns is not None:
                return level, found_ns
    return level, None


# ---------------------------------------------------------------------- compact records

_UNREAD = object()


def _read_again(line: str) -> Reading:
    return _read(line, 0)


_read_cached = lru_cache(maxsize=2048)(_read_again)


def _lazy(name: str, index: int) -> property:
    slot = LogRecord.__dict__[name]
    get, put = slot.__get__, slot.__set__

    def fget(self: LogRecord) -> Any:
        value = get(self, LogRecord)
        return _read_cached(self.line)[index] if value is _UNREAD else value

    def fset(self: LogRecord, value: Any) -> None:
        put(self, value)

    return property(fget, fset, doc=f"``{name}``, read from ``line`` when first asked.")


class LineRecord(LogRecord):
    """A record that keeps only its line, time, level, labels, source and seq, and reads
    its message, fields and ids from the line when asked (a few recent readings are
    cached, and shared: replace ``fields`` rather than change it in place). What a buffer
    holds for structured lines: under half the memory of a full record."""

    __slots__ = ()

    message = _lazy("message", 0)  # type: ignore[assignment]
    fields = _lazy("fields", 1)  # type: ignore[assignment]
    trace_id = _lazy("trace_id", 2)  # type: ignore[assignment]
    span_id = _lazy("span_id", 3)  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LogRecord):
            return NotImplemented
        return _compared(self) == _compared(other)

    __hash__ = None  # type: ignore[assignment]


def _compared(record: LogRecord) -> tuple[object, ...]:
    return (record.time_ns, record.message, record.level, record.fields, record.labels,
            record.trace_id, record.span_id, record.source, record.seq)


_SET = {name: LogRecord.__dict__[name].__set__ for name in
        ("message", "fields", "trace_id", "span_id")}


def compact(record: LogRecord) -> LogRecord:
    """The smallest record equal to ``record``: a :class:`LineRecord` when it is a
    structured line (its message is not the whole line) whose message, fields and ids are
    still what :func:`parse_line` read from it; else ``record`` itself (a plain line's
    message *is* its line: nothing to save). Drops ``record.parsed`` either way."""
    read = record.parsed
    if read is None:
        return record
    record.parsed = None
    message = record.message
    if (message is record.line or not record.line or read[0] != message
            or read[1] != record.fields or read[2] != record.trace_id
            or read[3] != record.span_id):
        return record
    small = LineRecord.__new__(LineRecord)
    small.time_ns = record.time_ns
    small.level = record.level
    small.labels = record.labels
    small.source = record.source
    small.seq = record.seq
    small.line = record.line
    small.parsed = None
    for put in _SET.values():
        put(small, _UNREAD)
    return small


# ---------------------------------------------------------------------- reading a line

def _read(text: str, received_ns: int) -> Reading:
    if text[:1] == "{":
        found = _read_json(text)
        if found is not None:
            return found
    elif text.find("=", 0, text.find(" ") % (len(text) + 1)) > 0:  # "=" in the first word
        found = _read_logfmt(text)
        if found is not None:
            return found
    return _read_plain(text, received_ns)


def _read_json(text: str, prefix_ns: int | None = None) -> Reading | None:
    try:
        data = msgspec.json.decode(text if text.isascii() else text.encode())
    except msgspec.ValidationError:  # numbers too large for msgspec: keep them as text
        try:
            data = json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
        except (ValueError, RecursionError):
            return None
    except (msgspec.MsgspecError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    fields: dict[str, Any] = {}
    _flatten(data, "", fields, 0)
    return _structured(fields, prefix_ns)


def _flatten(data: dict[str, Any], prefix: str, into: dict[str, Any], depth: int) -> None:
    for key, value in data.items():
        if prefix:
            key = prefix + key
        if type(value) is dict and value and depth < FLATTEN_DEPTH:
            _flatten(value, key + ".", into, depth + 1)
        else:
            into[key] = value


def _text_of(value: object) -> str:
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is int or kind is float:
        try:
            return repr(value)
        except ValueError:  # an int past Python's digit limit for str()
            return "…"
    try:
        return msgspec.json.encode(value).decode()
    except (msgspec.MsgspecError, RecursionError, ValueError, TypeError):
        return repr(type(value))


def _structured(data: dict[str, Any], prefix_ns: int | None) -> Reading:
    message = ""
    for key in MESSAGE_KEYS:
        value = data.get(key)
        if type(value) is str:
            message = value.rstrip("\r\n")
            del data[key]
            break
    level = Level.UNKNOWN
    for key in LEVEL_KEYS:
        if key in data:
            value = data[key]
            found = (_PINO_LEVELS.get(value, Level.UNKNOWN) if type(value) is int
                     else parse_level(value) if type(value) is str else Level.UNKNOWN)
            if found is not Level.UNKNOWN:
                level = found
                del data[key]
                break
    else:
        for key in OTLP_LEVEL_KEYS:
            value = data.get(key)
            if type(value) is int and 0 < value <= 24:
                level = level_from_otlp(value)
                del data[key]
                break
        else:
            if message:
                level = _level_in_text(message, 0)
    found_ns = None
    for key in TIME_KEYS:
        if key in data:
            found_ns = _time_value(data[key])
            if found_ns is not None:
                del data[key]
                break
    if found_ns is None:
        found_ns = prefix_ns
    trace_id = _id_from(data, TRACE_KEYS)
    span_id = _id_from(data, SPAN_KEYS)
    fields = {key: _text_of(value) for key, value in data.items()}
    return message, fields or None, trace_id, span_id, level, found_ns


def _id_from(data: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = data.get(key)
        if type(value) is str and value.strip():
            del data[key]
            return value.strip()
        if type(value) is int and value > 0:
            del data[key]
            return str(value)
    return None


# logfmt: the whole line is key=value pairs separated by blanks.
_PAIR = r'[^\s="]+=(?:"(?:[^"\\]|\\.)*"|[^\s"]*)'
_LOGFMT = re.compile(rf"\s*{_PAIR}(?:\s+{_PAIR})*\s*")
_PAIRS = re.compile(r'([^\s="]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')
_ESCAPE = re.compile(r'\\(["\\/abfnrtv]|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8})')
_SIMPLE_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "a": "\a", "b": "\b", "f": "\f",
                   "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_LOGFMT_NAMES = frozenset({"level", "lvl", "severity", "msg", "message"})


def _unescape(match: re.Match[str]) -> str:
    code = match.group(1)
    simple = _SIMPLE_ESCAPES.get(code)
    if simple is not None:
        return simple
    point = int(code[1:], 16)
    if 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
        return match.group(0)  # not a character: keep what was written
    return chr(point)


def _read_logfmt(text: str) -> Reading | None:
    if _LOGFMT.fullmatch(text) is None:
        return None
    pairs = _PAIRS.findall(text)
    if len(pairs) < 2 and pairs[0][0] not in _LOGFMT_NAMES:
        return None
    data: dict[str, Any] = {}
    for key, value in pairs:
        if value[:1] == '"':
            value = value[1:-1]
            if "\\" in value:
                value = _ESCAPE.sub(_unescape, value)
        data[key] = value
    return _structured(data, None)


def _read_plain(text: str, received_ns: int) -> Reading:
    found_ns, end, level = _time_prefix(text, 0, received_ns)
    if found_ns is None:
        word = _FIRST_LEVEL.match(text)
        if word is not None:
            level = parse_level(word.group(1))
            found_ns, end, _ = _time_prefix(text, word.end(), received_ns)
            if found_ns is None:
                end = 0
        elif "[" in text[:_NEAR]:  # the common log format: 1.2.3.4 - - [26/Nov/2026:…]
            found_ns, _, _ = _time_prefix(text, text.index("[") + 1, received_ns)
    if found_ns is not None and level is Level.UNKNOWN and "{" in text[end:end + 48]:
        rest = end + len(text[end:end + 40]) - len(text[end:end + 40].lstrip(" \t"))
        if text[rest:rest + 1] == "{":
            body = _read_json(text[rest:], found_ns)
            if body is not None:
                return body
        stream = _CRI.match(text, rest)
        if stream is not None and text[stream.end():stream.end() + 1] == "{":
            body = _read_json(text[stream.end():], found_ns)
            if body is not None:
                return body
    if level is Level.UNKNOWN:
        level = _level_in_text(text, end)
    trace_id = _id_in_text(text, "race", "RACE", _TRACE_TEXT)
    span_id = _id_in_text(text, "pan", "PAN", _SPAN_TEXT) if trace_id is not None else None
    return text, None, trace_id, span_id, level, found_ns


_LEVEL_WORDS = ("trace|debug|info|notice|warn|warning|error|err|fatal|critical|crit|panic"
                "|dbg|inf|wrn|trc|ftl")
_FIRST_LEVEL = re.compile(rf"[\s|:-]*[\[(<]?({_LEVEL_WORDS})\b[\])>:]?\s*", re.IGNORECASE)
# Upper-case runs are found by one scan; the names among them are looked up.
_UPPER_RUN = re.compile(r"[A-Z]{3,9}(?![\w/.-])")
_UPPER_LEVELS = {name: parse_level(name) for name in (
    "TRACE", "DEBUG", "INFO", "NOTICE", "WARN", "WARNING", "ERROR", "ERR", "FATAL", "CRITICAL",
    "CRIT", "PANIC", "SEVERE", "EMERG", "ALERT", "DBG", "INF", "WRN", "TRC", "FTL")}
_BRACKET_LEVEL = re.compile(rf"\[(?:[\w.-]+:)?({_LEVEL_WORDS}|alert|emerg)\]", re.IGNORECASE)
_LEVEL_FIELDS = ("level=", "lvl=", "severity=")
_LEVEL_VALUE = re.compile(r"\"?([A-Za-z]+)")
_NEAR = 100
# Matched where "race"/"pan" was found, one character before it.
_TRACE_TEXT = re.compile(r"(?i)trace[_.-]?id[\"']?\s*[=:]\s*[\"']?([0-9a-f]{8,32})\b")
_SPAN_TEXT = re.compile(r"(?i)span[_.-]?id[\"']?\s*[=:]\s*[\"']?([0-9a-f]{8,16})\b")
_CRI = re.compile(r"(?:stdout|stderr) [FP] ")


def _level_in_text(text: str, start: int) -> Level:
    """The level a plain line names: its first word (any case), else the first upper-case
    or bracketed level word near the start, else ``level=…`` anywhere."""
    word = _FIRST_LEVEL.match(text, start)
    if word is not None:
        return parse_level(word.group(1))
    head = text[start:start + _NEAR]
    near = None
    for run in _UPPER_RUN.finditer(head):
        at = run.start()
        if run.group() in _UPPER_LEVELS and (at == 0 or head[at - 1] not in _WORDISH) and (
                not head[at - 1:at].isalnum()):
            near = run
            break
    bracket = _BRACKET_LEVEL.search(head) if "[" in head else None
    if near is not None and (bracket is None or near.start() <= bracket.start()):
        return _UPPER_LEVELS[near.group()]
    if bracket is not None:
        return parse_level(bracket.group(1))
    if "=" in text:
        for key in _LEVEL_FIELDS:
            at = text.find(key)
            if at >= 0 and (at == 0 or not text[at - 1].isalnum()):
                value = _LEVEL_VALUE.match(text, at + len(key))
                if value is not None:
                    return parse_level(value.group(1))
    return Level.UNKNOWN


_WORDISH = frozenset("_/.-")


def _id_in_text(text: str, lower: str, upper: str, pattern: re.Pattern[str]) -> str | None:
    """A trace or span id written ``trace_id=…`` (``traceId:``, ``otelTraceID=``…)."""
    for needle in (lower, upper):
        at = text.find(needle)
        while at > 0:
            found = pattern.match(text, at - 1)
            if found is not None:
                return found.group(1)
            at = text.find(needle, at + 1)
    return None


# ---------------------------------------------------------------------- times

_ZONE = r"(Z|z|UTC|GMT|[+-]\d\d(?::?\d\d)?)?"
_ISO = re.compile(r"(\d{4})([-/])(\d\d)\2(\d\d)[T ](\d\d):(\d\d)(?::(\d\d)(?:[.,](\d+))?)?"
                  rf" ?{_ZONE}")
_MONTH_DAY = re.compile(r"(\d\d)-(\d\d) (\d\d):(\d\d):(\d\d)(?:[.,](\d+))?")
_EPOCH = re.compile(r"(\d{10}|\d{13})(?:\.(\d{1,9}))?(?=[\s\]]|$)")
_KLOG = re.compile(r"([IWEF])(\d\d)(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?")
_SYSLOG = re.compile(r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?([A-Z][a-z]{2}) {1,2}(\d{1,2}) "
                     r"(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?: (\d{4})(?!\d))?")
_SYSLOG_HEAD = re.compile(r" \S+ [^\s:\[]+(?:\[\d+\])?: ")
_CLF = re.compile(r"(\d\d)/([A-Z][a-z]{2})/(\d{4}):(\d\d):(\d\d):(\d\d)(?: ([+-]\d{4}))?")
_SYSLOG_PRIORITY = re.compile(r"<(\d{1,3})>")
_MONTHS = {name: number for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}
_KLOG_LEVELS = {"I": Level.INFO, "W": Level.WARN, "E": Level.ERROR, "F": Level.FATAL}
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_LOWEST_NS = 946_684_800 * 10**9  # 2000-01-01: epoch numbers below are not times
_HIGHEST_NS = 7_258_118_400 * 10**9  # 2200-01-01
_hours: dict[object, tuple[int, int] | None] = {}
_years: dict[int, int] = {}
# What a fraction of that many digits is multiplied by to make nanoseconds.
_FRACTION = [10 ** (9 - digits) for digits in range(10)]

_NO_TIME: tuple[None, int, Level] = (None, 0, Level.UNKNOWN)


def _time_prefix(text: str, start: int, received_ns: int
                 ) -> tuple[int | None, int, Level]:
    """A time at ``text[start:]``: (ns, where it ends, a level it implies) or no time."""
    first = text[start:start + 1]
    if not first:
        return _NO_TIME
    if first.isdigit():
        found = _ISO.match(text, start)
        if found is not None:
            found_ns = _iso_ns(found)
            return (found_ns, found.end(), Level.UNKNOWN) if found_ns is not None else _NO_TIME
        found = _MONTH_DAY.match(text, start)
        if found is not None:
            mo, d, h, mi, s, frac = found.groups()
            return _done(_yearless_ns(received_ns, int(mo), int(d), int(h), int(mi), int(s),
                                      frac), found.end(), Level.UNKNOWN)
        found = _EPOCH.match(text, start)
        if found is not None:
            whole, frac = found.groups()
            value = int(whole) * (10**9 if len(whole) == 10 else 10**6)
            if frac:
                value += int(frac.ljust(9, "0")) // (1 if len(whole) == 10 else 1000)
            return _done(value if _LOWEST_NS <= value < _HIGHEST_NS else None, found.end(),
                         Level.UNKNOWN)
        found = _CLF.match(text, start)
        if found is not None:
            d, mon, y, h, mi, s, zone = found.groups()
            month = _MONTHS.get(mon)
            return _done(_wall_ns(int(y), month, int(d), int(h), int(mi), int(s), None, zone)
                         if month else None, found.end(), Level.UNKNOWN)
        return _NO_TIME
    if first == "[" and start < 2:
        found_ns, end, level = _time_prefix(text, start + 1, received_ns)
        if found_ns is not None and text[end:end + 1] == "]":
            end += 1
        return found_ns, end, level
    if first == "<" and start == 0:
        priority = _SYSLOG_PRIORITY.match(text)
        if priority is not None and int(priority.group(1)) < 192:
            level = parse_level(str(int(priority.group(1)) % 8))
            found_ns, end, _ = _time_prefix(text, priority.end(), received_ns)
            return found_ns, (end if found_ns is not None else priority.end()), level
        return _NO_TIME
    if first in "IWEF":
        found = _KLOG.match(text, start)
        if found is not None:
            letter, mo, d, h, mi, s, frac = found.groups()
            return _done(_yearless_ns(received_ns, int(mo), int(d), int(h), int(mi), int(s),
                                      frac), found.end(), _KLOG_LEVELS[letter])
    if first.isupper():
        found = _SYSLOG.match(text, start)
        if found is not None:
            mon, d, h, mi, s, frac, year = found.groups()
            month = _MONTHS.get(mon)
            if month is None:
                return _NO_TIME
            if year:
                value = _wall_ns(int(year), month, int(d), int(h), int(mi), int(s), frac, None)
            else:
                value = _yearless_ns(received_ns, month, int(d), int(h), int(mi), int(s),
                                     frac)
            # "host program[pid]: " comes before the message (where a level word may be).
            head = _SYSLOG_HEAD.match(text, found.end())
            return _done(value, head.end() if head else found.end(), Level.UNKNOWN)
    return _NO_TIME


def _done(found_ns: int | None, end: int, level: Level) -> tuple[int | None, int, Level]:
    if found_ns is None:
        return None, 0, level
    return found_ns, end, level


def _wall_ns(y: int, mo: int, d: int, h: int, mi: int, s: int, frac: str | None,
             zone: str | None) -> int | None:
    """Nanoseconds since the epoch of a wall-clock time; local time when ``zone`` is None."""
    hour = _hours.get((y, mo, d, h))
    if hour is None:
        hour = _hour(y, mo, d, h)
    return _finish(hour, mi, s, frac, zone)


def _iso_ns(found: re.Match[str]) -> int | None:
    # Keyed by the text up to the hour ("2026-11-26T06"): most lines of a run share it.
    start = found.start()
    key = found.string[start:start + 13]
    hour = _hours.get(key)
    if hour is None:
        y, _, mo, d, h = found.group(1, 2, 3, 4, 5)
        hour = _hour(int(y), int(mo), int(d), int(h), key)
        if hour is None:
            return None
    mi, s, frac, zone = found.group(6, 7, 8, 9)
    if zone == "Z" and s is not None:  # the usual RFC 3339 shape, quickly
        minute, second = int(mi), int(s)
        if minute > 59 or second > 60:
            return None
        nanos = int(frac[:9]) * _FRACTION[min(len(frac), 9)] if frac else 0
        return (hour[0] + minute * 60 + second) * 1_000_000_000 + nanos
    return _finish(hour, int(mi), int(s or 0), frac, zone)


def _finish(hour: tuple[int, int] | None, mi: int, s: int, frac: str | None,
            zone: str | None) -> int | None:
    if hour is None or mi > 59 or s > 60:
        return None
    seconds = hour[0] + mi * 60 + s
    if zone is None:
        seconds -= hour[1]
    elif zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60
        seconds -= offset if zone[0] == "+" else -offset
    return seconds * 1_000_000_000 + (int(frac[:9]) * _FRACTION[min(len(frac), 9)] if frac else 0)


def _hour(y: int, mo: int, d: int, h: int, key: object = None) -> tuple[int, int] | None:
    """(seconds at the start of that hour read as UTC, the local zone's offset then), or
    None for a date that does not exist; cached."""
    hour: tuple[int, int] | None = None
    if h <= 23 and 1970 <= y < 2200:
        try:
            wall = (date(y, mo, d).toordinal() - _EPOCH_DAY) * 86400 + h * 3600
        except ValueError:
            pass
        else:
            try:
                offset = wall - int(time.mktime((y, mo, d, h, 0, 0, 0, 0, -1)))
            except (OverflowError, ValueError):
                offset = 0
            hour = (wall, offset)
    if len(_hours) > 4096:
        _hours.clear()
    _hours[(y, mo, d, h) if key is None else key] = hour
    return hour


def _yearless_ns(received_ns: int, mo: int, d: int, h: int, mi: int, s: int,
                 frac: str | None) -> int | None:
    now_ns = received_ns if received_ns > _LOWEST_NS else time.time_ns()
    hour_now = now_ns // 3_600_000_000_000
    year = _years.get(hour_now)
    if year is None:
        year = time.localtime(now_ns // 1_000_000_000).tm_year
        if len(_years) > 64:
            _years.clear()
        _years[hour_now] = year
    found = _wall_ns(year, mo, d, h, mi, s, frac, None)
    if found is not None and found > now_ns + 2 * 86400 * 10**9:
        found = _wall_ns(year - 1, mo, d, h, mi, s, frac, None)
    return found


def _epoch_ns(value: int | float) -> int | None:
    """An epoch number in s, ms, µs or ns (told apart by size) as ns, if it is a time."""
    if value != value or value <= 0:  # NaN too
        return None
    if value < 1e11:
        scale = 10**9
    elif value < 1e14:
        scale = 10**6
    elif value < 1e17:
        scale = 10**3
    elif value < 1e20:
        scale = 1
    else:
        return None
    if type(value) is int:
        found = value * scale
    else:  # a float holds about a microsecond at these sizes: no finer
        whole = int(value)
        found = whole * scale + round((value - whole) * scale / 1000) * 1000
    return found if _LOWEST_NS <= found < _HIGHEST_NS else None


# The last time string read and what it read as, swapped in one store (sources may parse
# in worker threads).
_last_time: list[tuple[str, int | None]] = [("", None)]


def _time_value(value: object) -> int | None:
    """A structured line's time field as ns: epoch numbers (also as digit strings, as
    journald writes them) or a timestamp string. A fast log repeats its time string for
    every line of the same millisecond: the last one read is remembered."""
    if type(value) is str:
        text, found = _last_time[0]
        if value == text:
            return found
        found = _read_time_value(value)
        _last_time[0] = (value, found)  # type: ignore[assignment]
        return found
    return _read_time_value(value)


def _read_time_value(value: object) -> int | None:
    kind = type(value)
    if kind is int or kind is float:
        return _epoch_ns(value)  # type: ignore[arg-type]
    if kind is not str:
        return None
    text: str = value.strip()  # type: ignore[attr-defined]
    if not text or len(text) > 64:
        return None
    if text.isdigit():
        return _epoch_ns(int(text))
    if text[0].isdigit() and text.replace(".", "", 1).isdigit():
        return _epoch_ns(float(text))
    found_ns, end, _ = _time_prefix(text, 0, 0)
    return found_ns if found_ns is not None and end >= len(text) else None


__all__ = ["FLATTEN_DEPTH", "LEVEL_KEYS", "MAX_LINE_CHARS", "MESSAGE_KEYS", "SPAN_KEYS",
           "TAKEN_KEYS", "TIME_KEYS", "TRACE_KEYS", "LineRecord", "compact", "decode",
           "parse_compact", "parse_line"]
