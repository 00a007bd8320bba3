"""The OTLP decoders in one place: request bodies → :class:`LogRecord` and :class:`Span`
lists, protobuf (:mod:`~watchdeck.core.otlp.decode_pb`) or OTLP/JSON
(:mod:`~watchdeck.core.otlp.decode_json`), mapped as :mod:`~watchdeck.core.otlp.mapping`
says. Trace backends that answer in OTLP/JSON (Jaeger api_v3, Tempo) read it here too.
"""

from __future__ import annotations

from watchdeck.core.otlp.decode_json import (
    json_int,
    logs_from_json,
    spans_from_json,
    spans_from_resource_spans,
)
from watchdeck.core.otlp.decode_pb import logs_from_protobuf, spans_from_protobuf
from watchdeck.core.otlp.mapping import Decoded, OTLPDecodeError, ResourceCache

__all__ = ["Decoded", "OTLPDecodeError", "ResourceCache", "json_int", "logs_from_json",
           "logs_from_protobuf", "spans_from_json", "spans_from_protobuf",
           "spans_from_resource_spans"]
