"""Logs: one model for every source, parsing, filtering and the bounded buffer panels read."""

from watchdeck.core.logs.buffer import LogBuffer
from watchdeck.core.logs.filter import Filter, FilterError, Search, parse_filter, parse_search
from watchdeck.core.logs.model import (
    MAX_LINE_CHARS,
    CollectingSink,
    Level,
    LogGap,
    LogItem,
    LogQuery,
    LogRecord,
    LogSink,
    LogSource,
    level_from_otlp,
    parse_level,
    record_text,
)
from watchdeck.core.logs.parse import LineRecord, decode, parse_line

__all__ = [
    "MAX_LINE_CHARS", "CollectingSink", "Filter", "FilterError", "Level", "LineRecord",
    "LogBuffer", "LogGap", "LogItem", "LogQuery", "LogRecord", "LogSink", "LogSource",
    "Search", "decode", "level_from_otlp", "parse_filter", "parse_level", "parse_line",
    "parse_search", "record_text",
]
