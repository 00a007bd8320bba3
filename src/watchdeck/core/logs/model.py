"""One log model for every log source: Loki, files, commands, websockets, OTLP.

A :class:`LogRecord` is one line as it arrived, with what could be read from it: when it
happened, its level, its message, its fields, the labels of its stream and the trace and
span it belongs to. A :class:`LogGap` marks lines known to be missing (Loki's
``dropped_entries``, a file truncated under us). Text in both is untrusted and kept as it
came (only cut to :data:`MAX_LINE_CHARS`): the UI neutralises it when it draws it.

A log source (:class:`LogSource`) *streams*: ``tail`` runs until it is cancelled, first
sending recent history, then live lines, reconnecting or restarting by itself, and
telling its :class:`LogSink` about records and about its state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Protocol, runtime_checkable

# Longer lines are cut, with a marker saying how much was left out (a 10 MB line must not
# cost 10 MB per copy, nor freeze the renderer).
MAX_LINE_CHARS = 16_384


class Level(IntEnum):
    """Severity, comparable: ``Level.WARN >= Level.INFO``. UNKNOWN sorts below all."""

    UNKNOWN = 0
    TRACE = 1
    DEBUG = 2
    INFO = 3
    WARN = 4
    ERROR = 5
    FATAL = 6

    @property
    def label(self) -> str:
        return "" if self is Level.UNKNOWN else self.name.lower()


# Every spelling seen in the wild (syslog names, Go, Java, Python, journald PRIORITY digits,
# OTLP severity text), lower-cased.
_LEVEL_NAMES: dict[str, Level] = {
    "trace": Level.TRACE, "trc": Level.TRACE, "finest": Level.TRACE, "finer": Level.TRACE,
    "debug": Level.DEBUG, "dbg": Level.DEBUG, "d": Level.DEBUG, "fine": Level.DEBUG,
    "7": Level.DEBUG,
    "info": Level.INFO, "inf": Level.INFO, "i": Level.INFO, "information": Level.INFO,
    "informational": Level.INFO, "notice": Level.INFO, "5": Level.INFO, "6": Level.INFO,
    "warn": Level.WARN, "warning": Level.WARN, "wrn": Level.WARN, "w": Level.WARN,
    "4": Level.WARN,
    "error": Level.ERROR, "err": Level.ERROR, "e": Level.ERROR, "severe": Level.ERROR,
    "3": Level.ERROR,
    "fatal": Level.FATAL, "critical": Level.FATAL, "crit": Level.FATAL, "panic": Level.FATAL,
    "alert": Level.FATAL, "emerg": Level.FATAL, "emergency": Level.FATAL, "dpanic": Level.FATAL,
    "f": Level.FATAL, "c": Level.FATAL, "0": Level.FATAL, "1": Level.FATAL, "2": Level.FATAL,
}


def parse_level(text: object) -> Level:
    """A level from its name in any usual spelling (``WARNING``, ``warn``, ``W``, ``err``,
    journald's ``4``); OTLP severity numbers go through :func:`level_from_otlp`."""
    if text is None:
        return Level.UNKNOWN
    key = str(text).strip().lower()
    found = _LEVEL_NAMES.get(key)
    if found is not None:
        return found
    # "WARN2", "error:" and the like: the longest known name the text starts with.
    for size in (11, 8, 7, 5, 4, 3):
        head = key[:size]
        if len(head) == size and head in _LEVEL_NAMES and not head.isdigit():
            return _LEVEL_NAMES[head]
    return Level.UNKNOWN


def level_from_otlp(severity_number: int) -> Level:
    """OTLP SeverityNumber (1-4 TRACE, 5-8 DEBUG, 9-12 INFO, 13-16 WARN, 17-20 ERROR,
    21-24 FATAL; 0 unspecified)."""
    if severity_number <= 0:
        return Level.UNKNOWN
    return Level(min(6, (severity_number - 1) // 4 + 1))


def cut(text: str, limit: int = MAX_LINE_CHARS) -> str:
    """``text`` cut to ``limit`` characters, with a marker saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [cut: {len(text) - limit:,} more characters]"


@dataclass(slots=True)
class LogRecord:
    """One log line. ``time_ns`` is when it happened (from the line when it says, else when
    it arrived); ``seq`` is the arrival order inside one source (ties in ``time_ns`` keep
    it). ``message`` is the text to show: the whole line for plain text, the message field
    for structured lines (whose other keys are in ``fields``)."""

    time_ns: int
    message: str
    level: Level = Level.UNKNOWN
    fields: dict[str, str] | None = None
    labels: dict[str, str] | None = None
    trace_id: str | None = None
    span_id: str | None = None
    source: str = ""
    seq: int = 0
    # The text the record was read from (set by ``parse_line``; "" for records built from a
    # protocol's fields). The buffer keeps only this text and re-reads the rest when shown.
    line: str = field(default="", compare=False, repr=False)
    # What ``parse_line`` read from ``line`` (message, fields, trace_id, span_id), so the
    # buffer can tell a record still equal to its line from one changed afterwards.
    parsed: tuple[object, ...] | None = field(default=None, init=False, compare=False,
                                               repr=False)


@dataclass(slots=True)
class LogGap:
    """Lines known to be missing between the records around it: ``count`` of them when the
    backend says (Loki's ``dropped_entries``), with a reason to show."""

    time_ns: int
    reason: str
    count: int | None = None
    source: str = ""
    seq: int = 0


LogItem = LogRecord | LogGap


def record_text(item: LogItem) -> str:
    """The text a filter word or a search looks in: the line as it came when there was one,
    else the message followed by the fields and ids (``k=v``), as a log line would hold
    them; a gap's reason."""
    if isinstance(item, LogGap):
        return item.reason
    if item.line:
        return item.line
    if item.fields is None and item.trace_id is None and item.span_id is None:
        return item.message
    parts = [item.message] if item.message else []
    if item.fields:
        parts.extend(f"{key}={value}" for key, value in item.fields.items())
    if item.trace_id:
        parts.append(f"trace_id={item.trace_id}")
    if item.span_id:
        parts.append(f"span_id={item.span_id}")
    return " ".join(parts)


@dataclass(frozen=True, slots=True)
class LogQuery:
    """What a panel asks of a log source.

    ``expr`` is the source's own query language where it has one (LogQL for Loki) and is
    ignored by the others. ``backlog`` is how many lines of history to send first (the last
    ones before now); ``since`` (epoch seconds), when given, limits that history to lines
    after it. ``contains`` narrows to lines holding that text (a trace id, from a drill):
    Loki adds it to the query as a line filter, the others filter what they read.
    """

    expr: str = ""
    backlog: int = 1000
    since: float | None = None
    contains: str | None = None


@dataclass(slots=True)
class SinkState:
    """A source's state as its sink last heard it."""

    ok: bool = False
    message: str | None = None
    retry_at: float | None = None   # epoch seconds of the next attempt, when waiting
    connected_at: float | None = None


class LogSink(Protocol):
    """Where a streaming source delivers. Called on the event loop; must not block."""

    def records(self, items: Sequence[LogItem]) -> None:
        """New items, in arrival order (each source keeps ``seq`` increasing)."""

    def state(self, ok: bool, message: str | None = None, retry_at: float | None = None
              ) -> None:
        """``ok``: reading (connected, file open, process running). Otherwise ``message``
        says what is wrong and ``retry_at`` when the next attempt is."""


@runtime_checkable
class LogSource(Protocol):
    """A source of log lines: Loki, file, command, websocket, OTLP receiver."""

    name: str
    type: str

    async def tail(self, query: LogQuery, sink: LogSink) -> None:
        """History (``query.backlog`` lines), then live lines, until cancelled. Never
        raises for backend trouble: it reports it through ``sink.state`` and retries with
        backoff. Cancelling it releases everything (sockets, files, child processes)."""

    async def aclose(self) -> None: ...


@dataclass
class CollectingSink:
    """A sink that keeps everything (tests, ``watchdeck check``)."""

    items: list[LogItem] = field(default_factory=list)
    states: list[SinkState] = field(default_factory=list)

    def records(self, items: Sequence[LogItem]) -> None:
        self.items.extend(items)

    def state(self, ok: bool, message: str | None = None, retry_at: float | None = None
              ) -> None:
        self.states.append(SinkState(ok, message, retry_at))

    @property
    def lines(self) -> list[LogRecord]:
        return [item for item in self.items if isinstance(item, LogRecord)]
