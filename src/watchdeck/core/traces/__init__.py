"""Traces without a screen: what a trace source answers and how a trace list asks
(:mod:`.source`), TraceQL and logfmt tags (:mod:`.traceql`), reading backends' answers
(:mod:`.wire`, and Jaeger's own JSON model in :mod:`.jaeger_model`), and the waterfall's
model (:mod:`.tree`).

Importing this package is cheap: the submodules load when used.
"""

from __future__ import annotations

from watchdeck.core.traces.source import (
    DEFAULT_LOOKBACK,
    TraceNotFoundError,
    TraceQuery,
    TraceSource,
    TraceTagSource,
    normalize_span_id,
    normalize_trace_id,
)

__all__ = [
    "DEFAULT_LOOKBACK", "TraceNotFoundError", "TraceQuery", "TraceSource", "TraceTagSource",
    "normalize_span_id", "normalize_trace_id",
]
