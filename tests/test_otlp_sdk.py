"""The real OpenTelemetry SDK (``opentelemetry-sdk`` with the OTLP/HTTP exporters) sending
to the embedded receiver over loopback: spans arrive as the right tree with their
durations, attributes, events and status; logs with their levels, fields, resource and
trace ids; an ``otlp`` log source tails them; a burst of thousands of spans all arrives.

The SDK is synchronous (``requests``), so it runs in a thread while the receiver serves
on the test's event loop, as it would inside the console.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import requests
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import SpanKind as SdkSpanKind
from opentelemetry.trace import Status as SdkStatus
from opentelemetry.trace import StatusCode as SdkStatusCode

from tests.support.waiting import until
from watchdeck.core.config.models import OTLPSourceConfig
from watchdeck.core.errors import QueryError
from watchdeck.core.logs.model import CollectingSink, Level, LogQuery
from watchdeck.core.otlp.pool import ReceiverPool
from watchdeck.core.otlp.receiver import OTLPReceiver
from watchdeck.core.otlp.spans import SpanKind, StatusCode
from watchdeck.core.sources.otlp import OTLPSource
from watchdeck.core.traces.source import TraceNotFoundError, TraceQuery, TraceSource


def session() -> requests.Session:
    # Loopback only: a proxy from the environment must not get in the way.
    http = requests.Session()
    http.trust_env = False
    return http


@pytest.fixture
async def receiver() -> AsyncIterator[OTLPReceiver]:
    served = OTLPReceiver("127.0.0.1", 0, max_logs=10_000, max_spans=50_000, source="otlp")
    await served.start()
    yield served
    await served.stop()


async def wait_for(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    await until(predicate, timeout)


# --- spans ----------------------------------------------------------------------------------

def export_checkout_trace(url: str, compression: Compression | None) -> dict[str, Any]:
    """A server span with two children (one failing, with an event) and a grandchild, sent
    by the SDK's exporter; returns what the SDK knew of them."""
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout",
                                                        "deployment.environment": "test"}))
    provider.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(
        endpoint=f"{url}/v1/traces", compression=compression, timeout=10,
        session=session())))
    tracer = provider.get_tracer("tests.checkout", "1.2.3")
    with tracer.start_as_current_span("POST /checkout", kind=SdkSpanKind.SERVER,
                                      attributes={"http.route": "/checkout",
                                                  "http.response.status_code": 500,
                                                  "retry.ratio": 0.25,
                                                  "tags": ["a", "b"]}) as parent:
        with tracer.start_as_current_span("charge card", kind=SdkSpanKind.CLIENT) as failing:
            failing.add_event("retry", {"attempt": 2, "final": True})
            failing.set_status(SdkStatus(SdkStatusCode.ERROR, "card declined"))
        with tracer.start_as_current_span("render") as ok:
            ok.set_attribute("template", "receipt.html")
            with tracer.start_as_current_span("load template") as leaf:
                leaf.add_link(failing.get_span_context(), {"why": "after failure"})
        parent.set_status(SdkStatus(SdkStatusCode.OK))
    provider.shutdown()

    def ids(span: Any) -> str:
        return format(span.get_span_context().span_id, "016x")
    return {"trace_id": format(parent.get_span_context().trace_id, "032x"),
            "parent": ids(parent), "failing": ids(failing), "ok": ids(ok), "leaf": ids(leaf),
            "times": {span.name: (span.start_time, span.end_time)
                      for span in (parent, failing, ok, leaf)}}


@pytest.mark.parametrize("compression", [None, Compression.Gzip, Compression.Deflate])
async def test_sdk_spans_arrive_as_the_right_tree(receiver: OTLPReceiver,
                                                  compression: Compression | None) -> None:
    sent = await asyncio.to_thread(export_checkout_trace, receiver.url, compression)
    await wait_for(lambda: len(receiver.spans) == 4)
    spans = {span.name: span for span in receiver.spans.trace(sent["trace_id"])}
    assert list(spans) == ["POST /checkout", "charge card", "render", "load template"]
    parent, failing, ok, leaf = spans.values()
    assert [s.span_id for s in spans.values()] == [
        sent["parent"], sent["failing"], sent["ok"], sent["leaf"]]
    assert parent.parent_span_id is None and parent.is_root
    assert failing.parent_span_id == ok.parent_span_id == sent["parent"]
    assert leaf.parent_span_id == sent["ok"]
    for name, span in spans.items():
        assert (span.start_ns, span.end_ns) == sent["times"][name]
        assert span.duration_ns == sent["times"][name][1] - sent["times"][name][0] > 0
    assert parent.kind is SpanKind.SERVER and failing.kind is SpanKind.CLIENT
    assert ok.kind is SpanKind.INTERNAL
    assert parent.attributes == {"http.route": "/checkout", "http.response.status_code": "500",
                                 "retry.ratio": "0.25", "tags": '["a","b"]'}
    assert parent.status is StatusCode.OK
    assert failing.status is StatusCode.ERROR and failing.status_message == "card declined"
    assert failing.events is not None and failing.events[0].name == "retry"
    assert failing.events[0].attributes == {"attempt": "2", "final": "true"}
    assert failing.start_ns <= failing.events[0].time_ns <= failing.end_ns
    assert leaf.links is not None and leaf.links[0].span_id == sent["failing"]
    assert leaf.links[0].trace_id == sent["trace_id"]
    assert leaf.links[0].attributes == {"why": "after failure"}
    assert ok.status is StatusCode.UNSET and ok.attributes == {"template": "receipt.html"}
    assert all(span.service == "checkout" and span.scope == "tests.checkout"
               for span in spans.values())
    assert parent.resource is not None and parent.resource["deployment.environment"] == "test"
    assert parent.resource["telemetry.sdk.name"] == "opentelemetry"
    assert parent.resource is failing.resource  # one dict per resource
    [summary] = receiver.spans.search()
    assert (summary.trace_id, summary.service, summary.operation) == (
        sent["trace_id"], "checkout", "POST /checkout")
    assert (summary.span_count, summary.error_count, summary.has_root) == (4, 1, True)
    assert summary.duration_ns == parent.duration_ns
    assert receiver.bad_requests == 0


async def test_the_otlp_source_is_a_trace_source() -> None:
    source = OTLPSource("otlp", OTLPSourceConfig(listen="127.0.0.1:0"), pool=ReceiverPool())
    try:
        await source.start()
        sent = await asyncio.to_thread(export_checkout_trace, f"http://{source.address}", None)
        await wait_for(lambda: len(source.spans) == 4)
        assert isinstance(source, TraceSource)
        assert await source.services() == ["checkout"]
        assert await source.operations("checkout") == [
            "POST /checkout", "charge card", "load template", "render"]
        [found] = await source.search(TraceQuery(service="checkout", status="error"))
        assert (found.trace_id, found.operation, found.span_count) == (
            sent["trace_id"], "POST /checkout", 4)
        assert await source.search(TraceQuery(operation="render", status="error")) == []
        # Raw TraceQL and logfmt tags, combined with the fields.
        by_traceql = TraceQuery(query='{ span.http.route = "/checkout" && duration > 1ns }')
        assert [t.trace_id for t in await source.search(by_traceql)] == [sent["trace_id"]]
        by_tags = TraceQuery(query="template=receipt.html", service="checkout")
        assert [t.trace_id for t in await source.search(by_tags)] == [sent["trace_id"]]
        assert await source.search(TraceQuery(query="attempt=3")) == []
        assert len(await source.search(TraceQuery(query="attempt=2"))) == 1  # an event's
        with pytest.raises(QueryError):
            await source.search(TraceQuery(query="{ .a = 1 || .b = 2 }"))
        # A window before the trace finds nothing; one around it finds it.
        start = sent["times"]["POST /checkout"][0] / 1e9
        assert await source.search(TraceQuery(start=start - 60, end=start - 30)) == []
        assert len(await source.search(TraceQuery(start=start - 1, end=start + 1))) == 1
        spans = await source.trace(sent["trace_id"].upper())
        assert [s.name for s in spans][0] == "POST /checkout" and len(spans) == 4
        with pytest.raises(TraceNotFoundError):
            await source.trace("0" * 31 + "1")
    finally:
        await source.aclose()


def export_burst(url: str, traces: int, spans_per_trace: int) -> float:
    """``traces`` traces of ``spans_per_trace`` spans through the SDK's batch processor (as
    applications run it); returns the seconds from the first span to the last export."""
    provider = TracerProvider(resource=Resource.create({"service.name": "burst"}))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=f"{url}/v1/traces", timeout=30, session=session()),
        max_queue_size=traces * spans_per_trace, max_export_batch_size=512,
        schedule_delay_millis=50))
    tracer = provider.get_tracer("tests.burst")
    started = time.perf_counter()
    for number in range(traces):
        with tracer.start_as_current_span("request", attributes={"request": number}):
            for child in range(spans_per_trace - 1):
                with tracer.start_as_current_span(f"step {child}",
                                                  attributes={"db.system": "postgresql"}):
                    pass
    provider.force_flush()
    took = time.perf_counter() - started
    provider.shutdown()
    return took


async def test_a_burst_of_sdk_spans_all_arrives(receiver: OTLPReceiver) -> None:
    took = await asyncio.to_thread(export_burst, receiver.url, 2000, 10)
    await wait_for(lambda: receiver.spans.received == 20_000)
    assert len(receiver.spans) == 20_000 and receiver.spans.trace_count == 2000
    assert receiver.bad_requests == 0 and receiver.spans.dropped == 0
    slowest = receiver.spans.search(service="burst", limit=3)
    assert len(slowest) == 3 and all(s.span_count == 10 for s in slowest)
    assert slowest[0].duration_ns >= slowest[1].duration_ns >= slowest[2].duration_ns
    # Creating the spans in Python costs the SDK more than receiving them costs us; this
    # only catches a receiver gone pathologically slow (bench figures are in the notes).
    assert 20_000 / took > 1000, f"{20_000 / took:.0f} spans/s"


# --- logs -----------------------------------------------------------------------------------

def export_logs(url: str, compression: Compression | None) -> dict[str, str]:
    """Three records through the SDK's logs API and OTLP/HTTP log exporter, the second
    inside a span (so it carries its trace and span ids)."""
    resource = Resource.create({"service.name": "payments", "k8s.pod.name": "payments-0"})
    provider = LoggerProvider(resource=resource)
    provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(
        endpoint=f"{url}/v1/logs", compression=compression, timeout=10, session=session())))
    logger = provider.get_logger("tests.payments")
    tracer = TracerProvider(resource=resource).get_tracer("tests.payments")
    try:
        logger.emit(body="cache warm", severity_number=SeverityNumber.DEBUG,
                    severity_text="DEBUG")
        with tracer.start_as_current_span("charge") as span:
            logger.emit(body="card 4242 declined", severity_number=SeverityNumber.WARN,
                        attributes={"order.id": "o-17", "amount": 12.5})
        logger.emit(body={"error": "payment failed: \x1b[31mred\x1b[0m", "codes": [402]},
                    severity_text="ERROR", event_name="payment.failed")
    finally:
        provider.shutdown()
    context = span.get_span_context()
    return {"trace_id": format(context.trace_id, "032x"),
            "span_id": format(context.span_id, "016x")}


@pytest.mark.parametrize("compression", [None, Compression.Gzip])
async def test_sdk_logs_arrive_with_levels_fields_and_trace_ids(
        receiver: OTLPReceiver, compression: Compression | None) -> None:
    before = time.time_ns()
    sent = await asyncio.to_thread(export_logs, receiver.url, compression)
    await wait_for(lambda: len(receiver.logs) == 3)
    debug, warning, error = receiver.logs.last(3)
    assert [r.message for r in (debug, warning)] == ["cache warm", "card 4242 declined"]
    # A structured body is shown as compact JSON (escapes stay escaped, as JSON writes them).
    assert error.message == '{"error":"payment failed: \\u001b[31mred\\u001b[0m","codes":[402]}'
    # By severity number; by severity text when there is no number.
    assert [r.level for r in (debug, warning, error)] == [Level.DEBUG, Level.WARN,
                                                           Level.ERROR]
    assert (warning.trace_id, warning.span_id) == (sent["trace_id"], sent["span_id"])
    assert debug.trace_id is None and error.trace_id is None
    assert warning.fields == {"order.id": "o-17", "amount": "12.5",
                              "otel.scope.name": "tests.payments"}
    assert error.fields == {"otel.scope.name": "tests.payments",
                            "event.name": "payment.failed"}
    assert warning.labels is not None and warning.labels["service.name"] == "payments"
    assert warning.labels["k8s.pod.name"] == "payments-0"
    assert debug.labels is warning.labels is error.labels  # one dict per resource
    assert before <= debug.time_ns <= warning.time_ns <= error.time_ns <= time.time_ns()
    assert all(r.source == "otlp" for r in (debug, warning, error))


async def test_otlp_source_tails_backlog_then_live_sdk_logs() -> None:
    pool = ReceiverPool()  # the test's own: never the console's shared receivers
    config = OTLPSourceConfig(listen="127.0.0.1:0", max_logs=1000)
    source = OTLPSource("app-logs", config, pool=pool)
    await source.start()
    url = f"http://{source.address}"
    first = await asyncio.to_thread(export_logs, url, None)
    await wait_for(lambda: len(source.logs) == 3)

    sink, drilled = CollectingSink(), CollectingSink()
    tails = [asyncio.create_task(source.tail(LogQuery(backlog=2), sink)),
             asyncio.create_task(source.tail(LogQuery(contains=first["trace_id"]), drilled))]
    try:
        await wait_for(lambda: len(sink.lines) == 2 and len(drilled.lines) == 1)
        assert [r.message for r in sink.lines][0] == "card 4242 declined"
        assert [r.level for r in sink.lines] == [Level.WARN, Level.ERROR]
        assert sink.states[0].ok and "listening on 127.0.0.1:" in (sink.states[0].message or "")
        second = await asyncio.to_thread(export_logs, url, Compression.Gzip)
        await wait_for(lambda: len(sink.lines) == 5 and len(drilled.lines) == 1)
        assert [r.message for r in sink.lines[2:4]] == ["cache warm", "card 4242 declined"]
        assert [r.seq for r in sink.lines] == [2, 3, 4, 5, 6]  # nothing twice, none lost
        assert sink.lines[3].trace_id == second["trace_id"]
        # The drill-down tail (contains=a trace id) only ever saw that trace's line.
        assert [r.trace_id for r in drilled.lines] == [first["trace_id"]]
    finally:
        for task in tails:
            task.cancel()
        await asyncio.gather(*tails, return_exceptions=True)
        await source.aclose()
    assert source.address is None
