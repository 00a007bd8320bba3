"""The embedded OTLP/HTTP receiver: applications send it logs and traces with any
OpenTelemetry SDK; it keeps them in bounded stores that the log and trace views read.

The span model and the stores import cheaply; the receiver and the decoders (aiohttp,
protobuf) are imported on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from watchdeck.core.otlp.spans import (
    Span,
    SpanEvent,
    SpanKind,
    SpanLink,
    StatusCode,
    TraceSummary,
)
from watchdeck.core.otlp.stores import LogStore
from watchdeck.core.otlp.tracestore import SpanStore

_LAZY = {
    "OTLPReceiver": "watchdeck.core.otlp.receiver",
    "RECEIVERS": "watchdeck.core.otlp.pool",
    "ReceiverPool": "watchdeck.core.otlp.pool",
    "describe_bind_error": "watchdeck.core.otlp.pool",
    "Decoded": "watchdeck.core.otlp.decode",
    "OTLPDecodeError": "watchdeck.core.otlp.decode",
    "logs_from_json": "watchdeck.core.otlp.decode",
    "logs_from_protobuf": "watchdeck.core.otlp.decode",
    "spans_from_json": "watchdeck.core.otlp.decode",
    "spans_from_protobuf": "watchdeck.core.otlp.decode",
}

__all__ = [
    "RECEIVERS", "Decoded", "LogStore", "OTLPDecodeError", "OTLPReceiver", "ReceiverPool",
    "Span", "SpanEvent", "SpanKind", "SpanLink", "SpanStore", "StatusCode", "TraceSummary",
    "describe_bind_error", "logs_from_json", "logs_from_protobuf", "spans_from_json",
    "spans_from_protobuf",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
