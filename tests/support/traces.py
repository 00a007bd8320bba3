"""A scripted trace source and small traces for console tests."""

from __future__ import annotations

from dataclasses import dataclass, field

from watchdeck.core.otlp.spans import Span, SpanEvent, SpanKind, StatusCode, TraceSummary
from watchdeck.core.traces.source import (
    TraceNotFoundError,
    TraceQuery,
    slowest_first,
    summarize,
)

BASE_NS = 1_700_000_000 * 10**9


def llm_trace(trace_id: str, total_ms: int, *, error: bool = False,
              model: str = "llama-3-8b") -> list[Span]:
    """gateway → router → vllm llm_request → prefill, decode; ``total_ms`` long."""
    start = BASE_NS + int(trace_id[-4:], 16) * 10**6
    ms = 10**6
    resource = {"service.name": "llm-gateway"}

    def span(span_id: str, name: str, service: str, parent: str | None, begin: int, end: int,
             **attributes: str) -> Span:
        return Span(trace_id=trace_id, span_id=span_id, name=name, start_ns=start + begin * ms,
                    end_ns=start + end * ms, parent_span_id=parent, service=service,
                    kind=SpanKind.SERVER, attributes=attributes or None,
                    resource={**resource, "service.name": service})

    spans = [
        span("a000000000000001", "POST /v1/chat/completions", "llm-gateway", None, 0, total_ms,
             **{"http.route": "/v1/chat/completions"}),
        span("a000000000000002", f"chat {model}", "llm-router", "a000000000000001", 1,
             total_ms - 1),
        span("a000000000000003", "llm_request", "vllm", "a000000000000002", 2, total_ms - 2,
             **{"gen_ai.request.model": model, "gen_ai.usage.input_tokens": "512",
                "gen_ai.usage.output_tokens": "128", "zz.other": "x"}),
        span("a000000000000004", "prefill", "vllm", "a000000000000003", 3, total_ms // 4),
        span("a000000000000005", "decode", "vllm", "a000000000000003", total_ms // 4,
             total_ms - 3),
    ]
    if error:
        failed = spans[4]
        failed.status = StatusCode.ERROR
        failed.status_message = "CUDA error: out of memory"
        failed.events = [SpanEvent(failed.end_ns, "exception",
                                   {"exception.message": "CUDA error: out of memory"})]
    return spans


@dataclass
class ScriptedTraceSource:
    """A trace source over a fixed set of traces; records what was asked."""

    name: str = "traces"
    type: str = "scripted"
    traces: dict[str, list[Span]] = field(default_factory=dict)
    searches: list[TraceQuery] = field(default_factory=list)
    fetched: list[str] = field(default_factory=list)

    def add(self, spans: list[Span]) -> None:
        self.traces[spans[0].trace_id] = spans

    async def services(self) -> list[str]:
        return sorted({s.service for spans in self.traces.values() for s in spans})

    async def operations(self, service: str) -> list[str]:
        return sorted({s.name for spans in self.traces.values() for s in spans
                       if s.service == service})

    async def search(self, query: TraceQuery) -> list[TraceSummary]:
        self.searches.append(query)
        found = []
        for trace_id, spans in self.traces.items():
            summary = summarize(trace_id, spans)
            if summary is None:
                continue
            if query.service and query.service not in summary.services:
                continue
            if query.min_duration_ns is not None and summary.duration_ns < query.min_duration_ns:
                continue
            if query.status == "error" and not summary.error_count:
                continue
            found.append(summary)
        return slowest_first(found, query.limit)

    async def trace(self, trace_id: str) -> list[Span]:
        self.fetched.append(trace_id)
        spans = self.traces.get(trace_id)
        if spans is None:
            raise TraceNotFoundError(trace_id, source=self.name)
        return list(spans)

    async def aclose(self) -> None:
        pass
