"""Each finished request as an OpenTelemetry trace, built with the real SDK.

gateway (SERVER, service ``llm-gateway``) → router (CLIENT, ``llm-router``) →
``llm_request`` (SERVER, ``vllm``, as vLLM names its span) → ``prefill`` / ``decode``
(INTERNAL). Spans carry ``gen_ai.*`` semantic-convention attributes and vLLM's own
``gen_ai.latency.*`` ones, and their start and end times are the simulated ones.

Trace and span ids are not drawn by the SDK: the simulation drew them (so logs and
exemplars already carry them), and :class:`ScriptedIds` hands them to the SDK. This
module imports OpenTelemetry, so the fleet imports it only when spans are wanted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import SpanKind, Status, StatusCode

from watchdeck.demo.workload import Request

ROUTE = "/v1/chat/completions"
_QUEUE = 32768   # spans
_STATUS = {"error": 500, "abort": 499}


class ScriptedIds(IdGenerator):
    """Returns the ids loaded for the request being traced, in span-creation order."""

    def __init__(self) -> None:
        self._trace_id = 0
        self._span_ids: deque[int] = deque()

    def load(self, trace_id: int, span_ids: Sequence[int]) -> None:
        self._trace_id = trace_id
        self._span_ids = deque(span_ids)

    def generate_trace_id(self) -> int:
        return self._trace_id

    def generate_span_id(self) -> int:
        return self._span_ids.popleft()


@dataclass(frozen=True)
class ReplicaInfo:
    name: str
    host: str
    port: int


def _ns(seconds: float) -> int:
    return int(round(seconds * 1e9))


class RequestTracer:
    def __init__(self, exporter: SpanExporter, replicas: list[ReplicaInfo],
                 batch: bool) -> None:
        # One processor behind every provider: each service has its own resource, and
        # all spans leave through the same exporter (and, with OTLP, the same thread).
        # The warm-up ends a few hundred requests at once: the batch queue must hold their
        # spans (the SDK's default of 2048 would drop some).
        self._processor: SpanProcessor = (
            BatchSpanProcessor(exporter, max_queue_size=_QUEUE) if batch
            else SimpleSpanProcessor(exporter))
        self._ids = ScriptedIds()
        self._replicas = replicas
        self._gateway = self._tracer({"service.name": "llm-gateway"})
        self._router = self._tracer({"service.name": "llm-router"})
        self._servers = [
            self._tracer({"service.name": "vllm", "service.instance.id": r.name,
                          "k8s.pod.name": r.name, "k8s.namespace.name": "llm-serving"})
            for r in replicas
        ]

    def _tracer(self, attributes: dict[str, Any]) -> trace.Tracer:
        provider = TracerProvider(resource=Resource.create(attributes),
                                  id_generator=self._ids, shutdown_on_exit=False)
        provider.add_span_processor(self._processor)
        return provider.get_tracer("watchdeck.demo")

    def trace(self, request: Request) -> None:
        replica = self._replicas[request.replica]
        self._ids.load(request.trace_id, request.span_ids)
        status = _STATUS.get(request.reason, 200)
        failed = request.reason == "error"
        tokens = {
            "gen_ai.usage.input_tokens": request.prompt_tokens,
            "gen_ai.usage.output_tokens": request.generated,
            "gen_ai.response.finish_reasons": (request.reason,),
        }
        common = {
            "gen_ai.operation.name": "chat",
            "gen_ai.system": "vllm",
            "gen_ai.request.model": request.model,
            "gen_ai.request.max_tokens": request.max_tokens,
        }
        start, end = request.arrival, request.finished_at

        gateway = self._gateway.start_span(
            f"POST {ROUTE}", kind=SpanKind.SERVER, start_time=_ns(start - 0.0031),
            attributes={"http.request.method": "POST", "http.route": ROUTE,
                        "url.path": ROUTE, "http.response.status_code": status,
                        "gen_ai.request.model": request.model})
        router = self._router.start_span(
            f"chat {request.model}", context=trace.set_span_in_context(gateway),
            kind=SpanKind.CLIENT, start_time=_ns(start - 0.0012),
            attributes={**common, **tokens, "server.address": replica.host,
                        "server.port": replica.port})
        server = self._servers[request.replica].start_span(
            "llm_request", context=trace.set_span_in_context(router), kind=SpanKind.SERVER,
            start_time=_ns(start),
            attributes={
                **common, **tokens,
                "gen_ai.response.model": request.model,
                "gen_ai.request.id": request.request_id,
                "gen_ai.request.n": 1,
                "gen_ai.latency.time_in_queue": request.queue_time,
                "gen_ai.latency.e2e": request.e2e,
                "gen_ai.latency.time_in_model_prefill": request.prefill_time,
            })
        inside = trace.set_span_in_context(server)
        if request.first_admitted_at is not None:
            prefill_end = request.first_token_at or end
            prefill = self._servers[request.replica].start_span(
                "prefill", context=inside, start_time=_ns(request.first_admitted_at),
                attributes={"gen_ai.usage.input_tokens": request.prompt_tokens,
                            "vllm.prefix_cache.hit_tokens": request.cached_tokens})
            prefill.end(end_time=_ns(prefill_end))
            if request.first_token_at is not None:
                server.set_attribute("gen_ai.latency.time_to_first_token",
                                     request.first_token_at - start)
                server.set_attribute("gen_ai.latency.time_in_model_decode",
                                     end - request.first_token_at)
                decode = self._servers[request.replica].start_span(
                    "decode", context=inside, start_time=_ns(request.first_token_at),
                    attributes={"gen_ai.usage.output_tokens": request.generated})
                decode.end(end_time=_ns(end))
        if failed:
            message = request.error or "engine error"
            server.add_event("exception", {"exception.type": message.split(":", 1)[0],
                                           "exception.message": message},
                             timestamp=_ns(end))
            for span in (server, router, gateway):
                span.set_attribute("error.type", "500")
                span.set_status(Status(StatusCode.ERROR, message))
        server.end(end_time=_ns(end))
        router.end(end_time=_ns(end + 0.0009))
        gateway.end(end_time=_ns(end + 0.0024))

    def shutdown(self) -> None:
        """Flush and stop (blocks on the exporter: call it from a thread)."""
        self._processor.shutdown()


def build_tracer(exporter: SpanExporter | None, replicas: list[ReplicaInfo],
                 otlp_endpoint: str | None = None) -> RequestTracer:
    """A tracer to ``exporter`` (synchronously: tests give an in-memory one), else to
    OTLP/HTTP at ``otlp_endpoint`` or where the OTEL_EXPORTER_OTLP_* environment says."""
    if exporter is not None:
        return RequestTracer(exporter, replicas, batch=False)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    if otlp_endpoint:
        # Like OTEL_EXPORTER_OTLP_ENDPOINT: a base URL, the signal path appended.
        otlp = OTLPSpanExporter(endpoint=otlp_endpoint.rstrip("/") + "/v1/traces")
    else:
        otlp = OTLPSpanExporter()   # reads OTEL_EXPORTER_OTLP_* (endpoint, headers, ...)
    return RequestTracer(otlp, replicas, batch=True)
