"""The embedded OTLP/HTTP receiver over real loopback sockets: OTLP/JSON (the spec's own
examples, and the spellings real senders use), protobuf built with opentelemetry-proto,
what a hostile or careless sender does to it, the bounded stores and trace search, and the
``otlp`` source's lifecycle (shared receivers, a port already in use). The real SDK's
exporters are in test_otlp_sdk.py."""

from __future__ import annotations

import asyncio
import base64
import gc
import gzip
import json
import logging
import random
import socket
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from watchdeck.core.config.models import OTLPSourceConfig
from watchdeck.core.logs.model import CollectingSink, Level, LogGap, LogQuery, LogRecord
from watchdeck.core.otlp import LogStore, SpanKind, SpanStore, StatusCode, tracestore
from watchdeck.core.otlp.mapping import MAX_ATTRIBUTES
from watchdeck.core.otlp.pool import ReceiverPool
from watchdeck.core.otlp.receiver import OTLPReceiver
from watchdeck.core.otlp.spans import Span, SpanEvent, TraceSummary
from watchdeck.core.sources import build_source
from watchdeck.core.sources.otlp import OTLPSource
from watchdeck.core.traces.source import TraceNotFoundError, TraceQuery

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "otlp"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
T0 = 1_767_225_600_000_000_000


@pytest.fixture
async def receiver() -> AsyncIterator[OTLPReceiver]:
    served = OTLPReceiver("127.0.0.1", 0, max_logs=1000, max_spans=1000,
                          max_body_bytes=1024 * 1024, source="otlp")
    await served.start()
    yield served
    await served.stop()


async def post(receiver: OTLPReceiver, path: str, body: bytes, content_type: str,
               headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession(auto_decompress=False) as session, session.post(
            f"{receiver.url}{path}", data=body,
            headers={"Content-Type": content_type, **(headers or {})}) as response:
        return response.status, response.content_type, await response.read()


def json_logs(records: list[dict[str, Any]], resource: dict[str, str] | None = None,
              scope: str = "tests") -> bytes:
    attrs = [{"key": k, "value": {"stringValue": v}} for k, v in (resource or {}).items()]
    return json.dumps({"resourceLogs": [{
        "resource": {"attributes": attrs},
        "scopeLogs": [{"scope": {"name": scope}, "logRecords": records}],
    }]}).encode()


def pb_logs(messages: list[str], resource: dict[str, str] | None = None) -> bytes:
    request = ExportLogsServiceRequest()
    resource_logs = request.resource_logs.add()
    resource_logs.resource.attributes.extend(
        KeyValue(key=k, value=AnyValue(string_value=v)) for k, v in (resource or {}).items())
    scope_logs = resource_logs.scope_logs.add()
    for i, message in enumerate(messages):
        record = scope_logs.log_records.add()
        record.time_unix_nano = T0 + i
        record.severity_number = 9
        record.body.string_value = message
    return request.SerializeToString()


# --- the spec's examples (opentelemetry-proto examples/, as in ../shared/fixtures/otlp) ------

def s(text: str) -> dict[str, str]:
    return {"stringValue": text}


def kv(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"key": key, "value": value}


SPEC_RESOURCE = {"attributes": [kv("service.name", s("my.service"))]}
SPEC_SCOPE = {"name": "my.library", "version": "1.0.0",
              "attributes": [kv("my.scope.attribute", s("some scope attribute"))]}
SPEC_TRACE = {"resourceSpans": [{"resource": SPEC_RESOURCE, "scopeSpans": [{
    "scope": SPEC_SCOPE,
    "spans": [{"traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174",
               "parentSpanId": "EEE19B7EC3C1B173", "name": "I'm a server span",
               "startTimeUnixNano": "1544712660000000000",
               "endTimeUnixNano": "1544712661000000000", "kind": 2,
               "attributes": [kv("my.span.attr", s("some value"))]}]}]}]}
SPEC_LOGS = {"resourceLogs": [{"resource": SPEC_RESOURCE, "scopeLogs": [{
    "scope": SPEC_SCOPE,
    "logRecords": [{
        "timeUnixNano": "1544712660300000000", "observedTimeUnixNano": "1544712660300000000",
        "severityNumber": 10, "severityText": "Information",
        "traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174",
        "body": s("Example log record"),
        "attributes": [
            kv("string.attribute", s("some string")),
            kv("boolean.attribute", {"boolValue": True}),
            kv("int.attribute", {"intValue": "10"}),
            kv("double.attribute", {"doubleValue": 637.704}),
            kv("array.attribute", {"arrayValue": {"values": [s("many"), s("values")]}}),
            kv("map.attribute", {"kvlistValue": {"values": [
                kv("some.map.key", s("some value"))]}}),
        ]}]}]}]}
SPEC_EVENTS = {"resourceLogs": [{"resource": SPEC_RESOURCE, "scopeLogs": [{
    "scope": SPEC_SCOPE,
    "logRecords": [{
        "eventName": "browser.page_view",
        "timeUnixNano": "1544712660300000000", "observedTimeUnixNano": "1544712660300000000",
        "severityNumber": 9, "severityText": "test severity text",
        "attributes": [kv("event.attribute", s("some event attribute"))],
        "body": {"kvlistValue": {"values": [
            kv("type", {"intValue": "0"}),
            kv("url", s("https://www.guidgenerator.com/online-guid-generator.aspx")),
            kv("referrer", s("https://wwww.google.com")),
            kv("title", s("Free Online GUID Generator")),
        ]}}}]}]}]}


@pytest.mark.parametrize(("name", "inline"), [("trace.json", SPEC_TRACE),
                                              ("logs.json", SPEC_LOGS),
                                              ("events.json", SPEC_EVENTS)])
def test_inline_examples_equal_the_shared_fixtures(name: str, inline: dict[str, Any]) -> None:
    if not (FIXTURES / name).exists():
        pytest.skip("../shared/fixtures/otlp is not beside this checkout")
    assert json.loads((FIXTURES / name).read_text()) == inline


async def test_spec_example_logs_json(receiver: OTLPReceiver) -> None:
    status, content_type, body = await post(receiver, "/v1/logs",
                                            json.dumps(SPEC_LOGS).encode(), JSON)
    assert (status, content_type, json.loads(body)) == (200, JSON, {})
    [record] = receiver.logs.last(10)
    assert record.time_ns == 1544712660300000000
    assert record.level is Level.INFO  # severityNumber 10
    assert record.message == "Example log record"
    assert record.trace_id == "5b8efff798038103d269b633813fc60c"  # upper-case hex, lowered
    assert record.span_id == "eee19b7ec3c1b174"
    assert record.labels == {"service.name": "my.service"}
    assert record.source == "otlp" and record.seq == 1
    assert record.fields == {
        "string.attribute": "some string", "boolean.attribute": "true",
        "int.attribute": "10", "double.attribute": "637.704",
        "array.attribute": '["many","values"]',
        "map.attribute": '{"some.map.key":"some value"}',
        "otel.scope.name": "my.library",
    }


async def test_spec_example_event_json_has_a_map_body(receiver: OTLPReceiver) -> None:
    status, _, _ = await post(receiver, "/v1/logs", json.dumps(SPEC_EVENTS).encode(), JSON)
    assert status == 200
    [record] = receiver.logs.last(10)
    assert json.loads(record.message) == {
        "type": 0, "url": "https://www.guidgenerator.com/online-guid-generator.aspx",
        "referrer": "https://wwww.google.com", "title": "Free Online GUID Generator"}
    assert record.fields is not None and record.fields["event.name"] == "browser.page_view"
    assert record.fields["event.attribute"] == "some event attribute"
    assert record.trace_id is None and record.span_id is None
    assert record.level is Level.INFO


async def test_spec_example_trace_json(receiver: OTLPReceiver) -> None:
    status, content_type, body = await post(receiver, "/v1/traces",
                                            json.dumps(SPEC_TRACE).encode(), JSON)
    assert (status, content_type, json.loads(body)) == (200, JSON, {})
    [span] = receiver.spans.trace("5B8EFFF798038103D269B633813FC60C")
    assert span == Span(
        trace_id="5b8efff798038103d269b633813fc60c", span_id="eee19b7ec3c1b174",
        parent_span_id="eee19b7ec3c1b173", name="I'm a server span",
        start_ns=1544712660000000000, end_ns=1544712661000000000, service="my.service",
        kind=SpanKind.SERVER, attributes={"my.span.attr": "some value"},
        resource={"service.name": "my.service"}, scope="my.library", seq=1)
    assert span.duration_ns == 1_000_000_000
    # Its parent never arrived: the summary says so, and names it after the span it has.
    assert receiver.spans.summary(span.trace_id) == TraceSummary(
        trace_id=span.trace_id, service="my.service", operation="I'm a server span",
        start_ns=span.start_ns, duration_ns=1_000_000_000, span_count=1, error_count=0,
        services=("my.service",), has_root=False)


# --- OTLP/JSON as senders really write it ---------------------------------------------------

async def test_json_times_levels_and_values(receiver: OTLPReceiver) -> None:
    before = time.time_ns()
    records = [
        # observed time only; severity from the text; numbers given as numbers
        {"observedTimeUnixNano": T0 + 5, "severityText": "WARNING",
         "body": {"intValue": 42}},
        # no time at all: the receive time; enum by name (lenient)
        {"severityNumber": "SEVERITY_NUMBER_ERROR", "body": {"doubleValue": "NaN"}},
        {"timeUnixNano": str(T0), "severityNumber": 21, "body": {"boolValue": False},
         "traceId": "", "spanId": "0000000000000000"},
        {"timeUnixNano": "not a number", "body": {"arrayValue": {"values": [
            {"intValue": "7"}, {"kvlistValue": {"values": [{"key": "k", "value": {}}]}}]}},
         "unknownField": {"ignored": True}},
        {"timeUnixNano": str(T0), "body": {"bytesValue": base64.b64encode(b"\x00\xff").decode()},
         "traceId": "W47/95gDgQPSabYzgT/GDA==", "spanId": "xyz"},
        {"timeUnixNano": float(T0), "severityNumber": "warn", "body": "a bare string"},
    ]
    status, _, _ = await post(receiver, "/v1/logs", json_logs(records), JSON)
    assert status == 200
    got = receiver.logs.last(10)
    assert [r.message for r in got] == ["42", "nan", "false", '[7,{"k":null}]', "00ff",
                                        "a bare string"]
    assert [r.level for r in got] == [Level.WARN, Level.ERROR, Level.FATAL, Level.UNKNOWN,
                                      Level.UNKNOWN, Level.WARN]
    assert got[0].time_ns == T0 + 5 and got[2].time_ns == T0 and got[4].time_ns == T0
    assert got[5].time_ns == T0
    assert before <= got[1].time_ns <= time.time_ns() and before <= got[3].time_ns
    assert got[2].trace_id is None and got[2].span_id is None  # empty / all-zero ids
    # base64 ids, as gogo-jsonpb senders write them, are read too; nonsense ones are dropped
    assert got[4].trace_id == "5b8efff798038103d269b633813fc60c" and got[4].span_id is None
    assert [r.seq for r in got] == [1, 2, 3, 4, 5, 6]


async def test_snake_case_json_and_enum_names(receiver: OTLPReceiver) -> None:
    logs = {"resource_logs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"string_value": "py"}}]},
        "scope_logs": [{"scope": {"name": "snake"}, "log_records": [{
            "time_unix_nano": str(T0), "severity_number": "SEVERITY_NUMBER_WARN2",
            "body": {"kvlist_value": {"values": [
                {"key": "n", "value": {"int_value": 3}},
                {"key": "b", "value": {"bytes_value": base64.b64encode(b"\x01").decode()}}]}},
            "trace_id": "0AF7651916CD43DD8448EB211C80319C", "span_id": "b7ad6b7169203331",
            "attributes": [{"key": "user", "value": {"string_value": "ada"}}],
            "dropped_attributes_count": 2}]}]}]}
    status, _, _ = await post(receiver, "/v1/logs", json.dumps(logs).encode(), JSON)
    assert status == 200
    [record] = receiver.logs.last(5)
    assert (record.time_ns, record.level, record.message) == (T0, Level.WARN,
                                                              '{"n":3,"b":"01"}')
    assert record.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert record.fields == {"user": "ada", "otel.dropped_attributes_count": "2",
                             "otel.scope.name": "snake"}
    assert record.labels == {"service.name": "py"}

    traces = {"resource_spans": [{"scope_spans": [{"spans": [
        {"trace_id": "0af7651916cd43dd8448eb211c80319c", "span_id": "b7ad6b7169203331",
         "name": "GET /", "kind": "SPAN_KIND_SERVER", "start_time_unix_nano": T0,
         "end_time_unix_nano": str(T0 + 2_000), "status": {"code": "STATUS_CODE_ERROR",
                                                           "message": "boom"},
         "events": [{"time_unix_nano": str(T0 + 1), "name": "exception"}]},
        {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "c7ad6b7169203331",
         "parentSpanId": "b7ad6b7169203331", "name": "db", "kind": "client",
         "startTimeUnixNano": str(T0 + 10), "endTimeUnixNano": str(T0 + 20),
         "status": {"code": 1}},
    ]}]}]}
    status, _, _ = await post(receiver, "/v1/traces", json.dumps(traces).encode(), JSON)
    assert status == 200
    root, child = receiver.spans.trace("0af7651916cd43dd8448eb211c80319c")
    assert (root.kind, root.status, root.status_message) == (SpanKind.SERVER,
                                                             StatusCode.ERROR, "boom")
    assert root.duration_ns == 2_000 and root.events is not None
    assert root.events[0].time_ns == T0 + 1
    assert (child.kind, child.status, child.parent_span_id) == (
        SpanKind.CLIENT, StatusCode.OK, root.span_id)
    assert root.service == "" and root.resource is None


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compressed_json_and_protobuf(receiver: OTLPReceiver, encoding: str) -> None:
    def pack(raw: bytes) -> bytes:
        return gzip.compress(raw) if encoding == "gzip" else zlib.compress(raw)

    status, content_type, body = await post(
        receiver, "/v1/logs", pack(json_logs([{"body": {"stringValue": "from json"}}])),
        JSON, {"Content-Encoding": encoding})
    assert (status, content_type, json.loads(body)) == (200, JSON, {})
    status, content_type, body = await post(receiver, "/v1/logs", pack(pb_logs(["from pb"])),
                                            PROTOBUF, {"Content-Encoding": encoding})
    assert (status, content_type) == (200, PROTOBUF)
    assert ExportLogsServiceResponse.FromString(body) == ExportLogsServiceResponse()
    assert [r.message for r in receiver.logs.last(10)] == ["from json", "from pb"]
    if encoding == "gzip":  # several gzip members one after the other make one body
        raw = json_logs([{"body": s("two members")}])
        status, _, _ = await post(receiver, "/v1/logs", gzip.compress(raw[:10])
                                  + gzip.compress(raw[10:]), JSON, {"Content-Encoding": "gzip"})
        assert status == 200 and receiver.logs.last(1)[0].message == "two members"


async def test_invalid_spans_are_rejected_as_a_partial_success(receiver: OTLPReceiver
                                                               ) -> None:
    good = {"traceId": "0af7651916cd43dd8448eb211c80319c", "spanId": "b7ad6b7169203331",
            "name": "kept", "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + 10)}
    bad = {**good, "traceId": "00000000000000000000000000000000", "name": "no trace id"}
    request = {"resourceSpans": [{"scopeSpans": [{"spans": [good, bad, {"name": "no ids"}]}]}]}
    status, _, body = await post(receiver, "/v1/traces", json.dumps(request).encode(), JSON)
    assert status == 200
    reply = json.loads(body)["partialSuccess"]
    assert reply["rejectedSpans"] == "2" and "trace id" in reply["errorMessage"]
    assert [span.name for span in receiver.spans.trace(good["traceId"])] == ["kept"]
    # The same in protobuf: the answer is a protobuf ExportTraceServiceResponse.
    pb = ExportTraceServiceRequest()
    spans = pb.resource_spans.add().scope_spans.add().spans
    spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 8, name="ok")
    spans.add(trace_id=b"\x01" * 16, span_id=b"\x02" * 3, name="short span id")
    status, content_type, body = await post(receiver, "/v1/traces", pb.SerializeToString(),
                                            PROTOBUF)
    assert (status, content_type) == (200, PROTOBUF)
    reply_pb = ExportTraceServiceResponse.FromString(body).partial_success
    assert reply_pb.rejected_spans == 1 and "span id" in reply_pb.error_message
    assert [span.name for span in receiver.spans.trace("01" * 16)] == ["ok"]


# --- refusals -------------------------------------------------------------------------------

async def test_other_content_types_methods_and_paths(receiver: OTLPReceiver) -> None:
    status, _, body = await post(receiver, "/v1/logs", b"hello", "text/plain")
    assert status == 415 and b"application/x-protobuf" in body
    status, _, _ = await post(receiver, "/v1/logs", pb_logs(["x"]), PROTOBUF,
                              {"Content-Encoding": "br"})
    assert status == 415
    status, _, _ = await post(receiver, "/v1/metrics", b"{}", JSON)
    assert status == 404
    async with aiohttp.ClientSession() as session, session.get(
            f"{receiver.url}/v1/logs") as response:
        assert response.status == 405
    status, _, _ = await post(receiver, "/v1/logs", json_logs([{"body": s("ok")}]),
                              "application/json; charset=utf-8")
    assert status == 200
    assert [r.message for r in receiver.logs.last(5)] == ["ok"]


async def test_garbage_is_400_and_the_server_keeps_going(receiver: OTLPReceiver) -> None:
    status, content_type, body = await post(receiver, "/v1/logs", b"\xff\x00garbage" * 10,
                                            PROTOBUF)
    assert (status, content_type) == (400, PROTOBUF)
    assert b"ExportLogsServiceRequest" in body  # a google.rpc.Status: code 3, then message
    assert body[:2] == b"\x08\x03"
    for garbage in (b"{not json", b"[1, 2]", b'{"resourceLogs": 7}', b"[" * 100_000):
        status, content_type, body = await post(receiver, "/v1/logs", garbage, JSON)
        assert (status, content_type) == (400, JSON), garbage[:20]
        assert json.loads(body)["code"] == 3 and json.loads(body)["message"]
    # Truncated protobuf: a length prefix promising more than is there.
    whole = pb_logs(["a complete line"])
    status, _, body = await post(receiver, "/v1/logs", whole[:-5], PROTOBUF)
    assert status == 400 and b"invalid protobuf" in body
    status, _, _ = await post(receiver, "/v1/traces", b"\x0a\x05trunc", PROTOBUF)
    assert status == 400
    status, _, _ = await post(receiver, "/v1/logs", b"\x1f\x8b not gzip", PROTOBUF,
                              {"Content-Encoding": "gzip"})
    assert status == 400
    status, _, _ = await post(receiver, "/v1/logs", gzip.compress(pb_logs(["x"]))[:-12],
                              PROTOBUF, {"Content-Encoding": "gzip"})
    assert status == 400  # truncated
    assert receiver.bad_requests == 9 and len(receiver.logs) == 0


async def test_wrong_types_in_json_are_skipped_not_fatal(receiver: OTLPReceiver) -> None:
    request = {"resourceLogs": [
        5, {"scopeLogs": "x"}, {"resource": [], "scopeLogs": [{"scope": "me", "logRecords": [
            1, None, {"body": {"stringValue": 5}, "attributes": {"not": "a list"},
                      "severityNumber": True, "timeUnixNano": [], "traceId": 12},
            {"body": {"kvlistValue": 3}, "attributes": [7, {"key": 9, "value": "v"},
                                                        {"value": {"stringValue": "keyless"}}]},
            {"body": {"arrayValue": {"values": "no"}}, "severityText": ["x"]},
        ]}]}]}
    status, _, _ = await post(receiver, "/v1/logs", json.dumps(request).encode(), JSON)
    assert status == 200
    first, second, third = receiver.logs.last(10)
    assert (first.message, first.fields, first.level, first.trace_id) == (
        "5", None, Level.UNKNOWN, None)
    assert second.message == "{}" and second.fields == {"9": "v", "": "keyless"}
    assert third.message == "" and third.level is Level.UNKNOWN
    spans = {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "ab" * 16, "spanId": "cd" * 8, "name": {"x": 1}, "kind": 99,
         "status": "bad", "events": "none", "links": [{"traceId": 1}],
         "startTimeUnixNano": "-5", "endTimeUnixNano": "99999999999999999999999"}]}]}]}
    status, _, _ = await post(receiver, "/v1/traces", json.dumps(spans).encode(), JSON)
    assert status == 200
    [span] = receiver.spans.trace("ab" * 16)
    assert (span.name, span.kind, span.status, span.events, span.links) == (
        "{'x': 1}", SpanKind.UNSPECIFIED, StatusCode.UNSET, None, None)
    assert span.start_ns == span.end_ns > 0  # no usable times: when it arrived


async def raw_exchange(receiver: OTLPReceiver, head: bytes, body_parts: list[bytes]
                       ) -> bytes:
    """Send a request by hand (never its whole body) and read the answer's status line."""
    host, port = receiver.address.rsplit(":", 1)  # type: ignore[union-attr]
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head)
        for part in body_parts:
            writer.write(part)
            await writer.drain()
        return await asyncio.wait_for(reader.readline(), timeout=5)
    finally:
        writer.close()


async def test_oversized_body_is_refused_before_it_is_read(receiver: OTLPReceiver) -> None:
    # Claims 1 GB, sends 4 KiB: the answer comes without the rest.
    head = (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
            b"Content-Length: 1000000000\r\n\r\n")
    assert (await raw_exchange(receiver, head, [b"\0" * 4096])).startswith(b"HTTP/1.1 413")
    # Chunked, no length: refused once it passes the limit, before the last chunk.
    head = (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (256 * 1024, b" " * 256 * 1024)
    assert (await raw_exchange(receiver, head, [chunk] * 5)).startswith(b"HTTP/1.1 413")
    # An honest body just over the limit.
    status, _, _ = await post(receiver, "/v1/logs", b" " * (1024 * 1024 + 1), JSON)
    assert status == 413
    status, _, _ = await post(receiver, "/v1/logs", pb_logs(["fine"]), PROTOBUF)
    assert status == 200 and len(receiver.logs) == 1


async def test_broken_http_and_vanishing_senders_are_quiet(
        receiver: OTLPReceiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    host, port = receiver.address.rsplit(":", 1)  # type: ignore[union-attr]
    heads = [
        # promises 1000 bytes, sends 10, hangs up
        (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Content-Length: 1000\r\n\r\n" + b"{" * 10, False),
        # a chunk cut short, then gone
        (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n5\r\nab", False),
        # a chunk size that is not hex: aiohttp's parser answers 400 itself
        (b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
         b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", True),
    ]
    for head, answered in heads:
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(head)
        await writer.drain()
        if answered:
            assert (await asyncio.wait_for(reader.readline(), 5)).split()[1] == b"400"
        writer.close()
    deadline = time.monotonic() + 5
    while receiver.bad_requests < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert receiver.bad_requests == 2  # the two the handler saw
    status, _, _ = await post(receiver, "/v1/logs", pb_logs(["after"]), PROTOBUF)
    assert status == 200
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
async def test_compression_bombs_are_413(receiver: OTLPReceiver, encoding: str) -> None:
    # 1 GiB of zeros in about 1 MiB would be too big to send; 64 MiB in ~64 KiB does: it
    # must be stopped at the limit (1 MiB), never inflated whole.
    packer = zlib.compressobj(9, zlib.DEFLATED, 31 if encoding == "gzip" else 15)
    block = b"\0" * (1024 * 1024)
    bomb = b"".join(packer.compress(block) for _ in range(64)) + packer.flush()
    assert len(bomb) < 128 * 1024
    status, _, body = await post(receiver, "/v1/traces", bomb, PROTOBUF,
                                 {"Content-Encoding": encoding})
    assert status == 413 and b"over 1048576 bytes" in body
    status, _, body = await post(receiver, "/v1/logs", bomb, JSON,
                                 {"Content-Encoding": encoding})
    assert status == 413 and "over" in json.loads(body)["message"]
    status, _, _ = await post(receiver, "/v1/logs", pb_logs(["fine"]), PROTOBUF)
    assert status == 200 and len(receiver.logs) == 1


# --- hostile text and shapes ----------------------------------------------------------------

async def test_hostile_text_is_kept_literally(receiver: OTLPReceiver) -> None:
    nasty = "\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07[bold red]markup[/] \u202e\x00end"
    nested: dict[str, Any] = {"stringValue": "bottom"}
    for _ in range(60):
        nested = {"arrayValue": {"values": [nested]}}
    records = [
        {"body": {"stringValue": nasty},
         "attributes": [{"key": "\x1b[31mkey", "value": {"stringValue": nasty}}]},
        {"body": {"bytesValue": base64.b64encode(b"\xff\xfe\x1b[0m").decode()}},
        {"body": nested},
        {"body": {"stringValue": "x" * 100_000}},
    ]
    raw = json_logs(records, resource={"service.name": nasty})
    # Invalid UTF-8 straight in the JSON text, inside a string.
    raw = raw.replace(b'"tests"', b'"scope-\xff\xc3"')
    status, _, _ = await post(receiver, "/v1/logs", raw, JSON)
    assert status == 200
    first, as_bytes, deep, long = receiver.logs.last(10)
    assert first.message == nasty and first.fields is not None
    assert first.fields["\x1b[31mkey"] == nasty and first.labels == {"service.name": nasty}
    assert first.fields["otel.scope.name"] == "scope-\\xff\\xc3"  # visible, not dropped
    assert as_bytes.message == "fffe1b5b306d"
    assert "nested too deep" in deep.message and deep.message.startswith("[[[[")
    assert long.message.startswith("x" * 16_384) and "cut: 83,616 more" in long.message
    # In protobuf, a string that is not UTF-8 makes the request invalid (proto3 says so).
    broken = pb_logs(["ab"]).replace(b"ab", b"\xff\xfe")
    status, _, body = await post(receiver, "/v1/logs", broken, PROTOBUF)
    assert status == 400 and len(receiver.logs) == 4


async def test_a_hundred_thousand_attributes_are_cut_to_the_cap() -> None:
    served = OTLPReceiver("127.0.0.1", 0, max_body_bytes=32 * 1024 * 1024)
    await served.start()
    try:
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend(
            KeyValue(key=f"r{i}", value=AnyValue(int_value=i)) for i in range(100_000))
        span = resource_spans.scope_spans.add().spans.add(
            trace_id=b"\x0a" * 16, span_id=b"\x0b" * 8, name="wide",
            start_time_unix_nano=T0, end_time_unix_nano=T0 + 1)
        span.attributes.extend(
            KeyValue(key=f"a{i}", value=AnyValue(string_value="v")) for i in range(100_000))
        span.events.add(name="e").attributes.extend(
            KeyValue(key=f"e{i}", value=AnyValue(bool_value=True)) for i in range(100_000))
        started = time.perf_counter()
        status, _, _ = await post(served, "/v1/traces", request.SerializeToString(), PROTOBUF)
        took = time.perf_counter() - started
        assert status == 200 and took < 5, took
        [kept] = served.spans.trace("0a" * 16)
        assert kept.attributes is not None and len(kept.attributes) == MAX_ATTRIBUTES + 1
        assert kept.attributes["otel.dropped_attributes_count"] == str(100_000 - MAX_ATTRIBUTES)
        assert kept.resource is not None and len(kept.resource) == MAX_ATTRIBUTES + 1
        assert kept.events is not None and kept.events[0].attributes is not None
        assert len(kept.events[0].attributes) == MAX_ATTRIBUTES + 1

        records = [{"body": s("wide"), "attributes": [
            kv(f"k{i}", {"intValue": str(i)}) for i in range(100_000)]}]
        status, _, _ = await post(served, "/v1/logs", json_logs(records), JSON)
        assert status == 200
        [record] = served.logs.last(1)
        assert record.fields is not None and len(record.fields) == MAX_ATTRIBUTES + 2
        assert record.fields["otel.dropped_attributes_count"] == str(100_000 - MAX_ATTRIBUTES)
    finally:
        await served.stop()


async def test_big_requests_do_not_hold_the_event_loop() -> None:
    served = OTLPReceiver("127.0.0.1", 0, max_logs=100_000, max_body_bytes=64 * 1024 * 1024)
    await served.start()
    body = pb_logs([f"request {i} finished" for i in range(60_000)])
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    try:
        started = time.perf_counter()
        status, _, _ = await post(served, "/v1/logs", body, PROTOBUF)
        took = time.perf_counter() - started
    finally:
        ticker.cancel()
        await served.stop()
    assert status == 200 and len(served.logs) == 60_000
    # Decoded inline, one gap would be about the whole request.
    assert max(gaps) < took / 2, (max(gaps), took)


# --- log store bounds -----------------------------------------------------------------------

async def test_more_than_max_logs_drops_the_oldest() -> None:
    served = OTLPReceiver("127.0.0.1", 0, max_logs=100)
    await served.start()
    try:
        for start in range(0, 250, 50):
            messages = [f"line {i}" for i in range(start, start + 50)]
            status, _, _ = await post(served, "/v1/logs", pb_logs(messages), PROTOBUF)
            assert status == 200
        kept = served.logs.last(1000)
        assert [r.message for r in kept] == [f"line {i}" for i in range(150, 250)]
        assert [r.seq for r in kept] == list(range(151, 251))
        assert (served.logs.received, served.logs.evicted, len(served.logs)) == (250, 150, 100)
        assert [r.message for r in served.logs.last(2)] == ["line 248", "line 249"]
        # One request bigger than the whole store: only its newest are ever built.
        status, _, _ = await post(served, "/v1/logs", pb_logs([f"big {i}" for i in range(250)]),
                                  PROTOBUF)
        assert status == 200
        assert [r.message for r in served.logs.last(1000)] == [f"big {i}"
                                                               for i in range(150, 250)]
        status, _, _ = await post(served, "/v1/logs",
                                  json_logs([{"body": s(f"j{i}")} for i in range(130)]), JSON)
        assert status == 200 and served.logs.last(1)[0].message == "j129"
        assert served.logs.last(100)[0].message == "j30"
        assert (served.logs.received, len(served.logs)) == (630, 100)
    finally:
        await served.stop()


def test_log_store_bounds_text_as_well_as_count() -> None:
    store = LogStore(max_items=10_000, max_chars=100_000)
    for i in range(100):
        store.add([LogRecord(time_ns=i, message="y" * 10_000)])
    assert store.chars <= 100_000 and 5 <= len(store) <= 10
    assert store.last(1)[0].time_ns == 99


# --- span store: whole-trace eviction and search --------------------------------------------

def span(trace: str, number: int, *, start: int = 0, duration: int = 10, parent: int | None = None,
         service: str = "api", name: str = "op", status: StatusCode = StatusCode.UNSET,
         attributes: dict[str, str] | None = None, resource: dict[str, str] | None = None,
         events: list[SpanEvent] | None = None) -> Span:
    return Span(trace_id=trace * 32 if len(trace) == 1 else trace, span_id=f"{number:016x}",
                name=name, start_ns=T0 + start, end_ns=T0 + start + duration,
                parent_span_id=f"{parent:016x}" if parent is not None else None,
                service=service, status=status, attributes=attributes, resource=resource,
                events=events)


def has_attribute(span: Span, key: str, value: str) -> bool:
    """What a search's attribute condition means, written out the slow way: a scope
    (``span.``/``resource.``) looks only there; none looks on the span, then the resource,
    then the events."""
    for scope in ("span", "resource"):
        if key.startswith(scope + "."):
            where = span.attributes if scope == "span" else span.resource
            return (where or {}).get(key[len(scope) + 1:]) == value
    name = key.removeprefix(".")
    for where in (span.attributes, span.resource,
                  *(event.attributes for event in span.events or ())):
        if where and name in where:
            return where[name] == value
    return False


def test_span_store_evicts_the_least_recently_extended_whole_trace() -> None:
    store = SpanStore(max_items=5)
    store.add([span("a", 1), span("a", 2, parent=1), span("b", 3), span("b", 4, parent=3)])
    store.add([span("a", 5, parent=1)])  # a is extended: b is now the oldest
    store.add([span("c", 6)])  # six spans: b goes, both its spans
    assert store.trace_ids() == ["c" * 32, "a" * 32]
    assert store.trace("b" * 32) == [] and len(store) == 4 and store.evicted == 2
    store.add([span("d", 7), span("d", 8, parent=7)])  # a (3 spans) must go for d
    assert store.trace_ids() == ["d" * 32, "c" * 32] and len(store) == 3
    assert store.services() == ["api"]
    # The indexes forgot the evicted traces too.
    assert {t.trace_id for t in store.search(service="api", limit=10)} == {"c" * 32, "d" * 32}
    assert store.summary("a" * 32) is None


def test_a_trace_bigger_than_the_store_keeps_its_start() -> None:
    store = SpanStore(max_items=3)
    store.add([span("e", 1)])
    store.add([span("f", number) for number in range(2, 8)])
    assert store.trace_ids() == ["f" * 32] and len(store) == 3
    assert [s.span_id[-1] for s in store.trace("f" * 32)] == ["2", "3", "4"]
    assert (store.dropped, store.evicted) == (3, 1)


def test_span_store_bounds_text() -> None:
    store = SpanStore(max_items=1000, max_chars=50_000)
    for number in range(20):
        store.add([span(f"{number:032x}", 1, attributes={"blob": "z" * 10_000})])
    assert store.chars <= 50_000 and 1 <= store.trace_count <= 4
    assert store.trace_ids()[0] == f"{19:032x}"


def search_fixture() -> SpanStore:
    store = SpanStore(max_items=1000)
    # slow checkout with a failing payment call
    store.add([span("1", 1, duration=900, name="POST /checkout", service="frontend"),
               span("1", 2, start=100, duration=500, parent=1, service="payments",
                    name="charge", status=StatusCode.ERROR,
                    attributes={"card.brand": "visa"}, resource={"region": "eu"})])
    # fast checkout, payments fine
    store.add([span("2", 3, duration=200, name="POST /checkout", service="frontend"),
               span("2", 4, start=10, duration=50, parent=3, service="payments",
                    name="charge", status=StatusCode.OK, attributes={"card.brand": "amex"},
                    resource={"region": "us"})])
    # a health check failing at the front
    store.add([span("3", 5, duration=5, name="GET /health", service="frontend",
                    status=StatusCode.ERROR)])
    # medium, payments charge fine, but a frontend error elsewhere in the trace
    store.add([span("4", 6, duration=400, name="POST /checkout", service="frontend",
                    status=StatusCode.ERROR),
               span("4", 7, start=5, duration=100, parent=6, service="payments",
                    name="charge", status=StatusCode.OK, attributes={"card.brand": "visa"},
                    resource={"region": "eu"})])
    return store


def ids(found: list[TraceSummary]) -> list[str]:
    return [summary.trace_id[0] for summary in found]


def test_search_is_slowest_first_with_summaries() -> None:
    store = search_fixture()
    found = store.search()
    assert ids(found) == ["1", "4", "2", "3"]
    assert found[0] == TraceSummary(
        trace_id="1" * 32, service="frontend", operation="POST /checkout", start_ns=T0,
        duration_ns=900, span_count=2, error_count=1, services=("frontend", "payments"))
    assert ids(store.search(limit=2)) == ["1", "4"]
    assert store.search(limit=0) == []


def test_search_filters() -> None:
    store = search_fixture()
    assert ids(store.search(service="payments")) == ["1", "4", "2"]
    assert ids(store.search(operation="GET /health")) == ["3"]
    assert ids(store.search(service="payments", operation="POST /checkout")) == []
    assert ids(store.search(min_duration_ns=300)) == ["1", "4"]
    assert ids(store.search(min_duration_ns=100, max_duration_ns=500)) == ["4", "2"]
    assert ids(store.search(status=StatusCode.ERROR)) == ["1", "4", "3"]
    assert ids(store.search(status="error", service="frontend")) == ["4", "3"]
    # One span must meet every span condition: the charge in trace 4 did not fail.
    assert ids(store.search(service="payments", status="STATUS_CODE_ERROR")) == ["1"]
    assert ids(store.search(attributes={"card.brand": "visa"})) == ["1", "4"]
    assert ids(store.search(attributes={"card.brand": "visa", "region": "eu"},
                            status=StatusCode.OK)) == ["4"]
    assert ids(store.search(attributes={"card.brand": "visa", "region": "us"})) == []
    assert ids(store.search(service="nobody")) == ids(store.search(operation="nothing")) == []
    # A window keeps the traces overlapping it.
    assert ids(store.search(start_ns=T0 + 250, end_ns=T0 + 10_000)) == ["1", "4"]
    assert store.services() == ["frontend", "payments"]
    assert store.operations() == ["GET /health", "POST /checkout", "charge"]
    assert store.operations("payments") == ["charge"]
    with pytest.raises(ValueError):
        store.search(status="sideways")


def test_search_over_a_full_store_is_quick() -> None:
    store = SpanStore(max_items=200_000)
    services = [f"svc-{n}" for n in range(20)]
    for number in range(20_000):
        trace = f"{number + 1:032x}"
        store.add([span(trace, i + 1, start=i, duration=number % 997 + i, parent=1 if i else None,
                        service=services[(number + i) % 20], name=f"op-{i}",
                        status=StatusCode.ERROR if number % 50 == 0 and i == 3 else
                        StatusCode.UNSET, attributes={"http.route": f"/r/{number % 100}"})
                   for i in range(10)])
    assert len(store) == 200_000 and store.trace_count == 20_000
    started = time.perf_counter()
    slow = store.search(limit=20)
    failing = store.search(service="svc-3", status="error", limit=20)
    routed = store.search(attributes={"http.route": "/r/7"}, min_duration_ns=500, limit=20)
    took = time.perf_counter() - started
    assert len(slow) == len(routed) == 20 and failing
    assert slow[0].duration_ns >= slow[-1].duration_ns
    assert all(t.error_count == 1 for t in failing)
    assert took < 1.0, took


def test_search_agrees_with_reading_every_trace_through_churn() -> None:
    """Random traces through a small store (so most are evicted and the index arrays are
    compacted many times): every search answers what reading all kept spans says."""
    rng = random.Random(7)
    store = SpanStore(max_items=300)
    services, names = ["api", "db", "cache"], ["get", "put", "scan", "ping"]
    statuses = list(StatusCode)
    resources = [{"pod": f"pod-{n}", "zone": "c" if n == 3 else "r"} for n in range(4)]
    traces = [f"{number:032x}" for number in range(1, 120)]
    for step in range(400):
        trace = rng.choice(traces[: 20 + step // 4])
        store.add([span(trace, rng.randrange(1 << 40), start=rng.randrange(1000),
                        duration=rng.randrange(1, 5000), service=rng.choice(services),
                        name=rng.choice(names), status=rng.choice(statuses),
                        attributes={"zone": rng.choice("abc"), "n": str(rng.randrange(3))},
                        resource=rng.choice(resources),
                        events=[SpanEvent(T0, "retry", {"attempt": rng.choice("12"),
                                                        "zone": "event-zone"})]
                        if rng.random() < 0.3 else None)
                   for _ in range(rng.randrange(1, 12))])
        if step % 20:
            continue
        kept = {trace_id: store.trace(trace_id) for trace_id in store.trace_ids()}
        assert sum(map(len, kept.values())) == len(store) <= 300
        queries: list[dict[str, Any]] = [
            {}, {"service": "db"}, {"operation": "scan"}, {"service": "api", "operation": "get"},
            {"status": "error"}, {"status": "ok", "service": "cache"},
            {"attributes": {"zone": "b"}}, {"attributes": {"zone": "a", "pod": "pod-2"}},
            {"attributes": {"n": "1"}, "operation": "put", "status": StatusCode.UNSET},
            {"min_duration_ns": 3000}, {"attributes": {"missing": "x"}},
            {"attributes": {"resource.zone": "c"}}, {"attributes": {"span.zone": "c"}},
            {"attributes": {"zone": "c"}}, {"attributes": {".attempt": "2", "service": "x"}},
            {"attributes": {"attempt": "1"}, "service": "db"},
            {"attributes": {"span.attempt": "1"}}, {"attributes": {"zone": "event-zone"}},
        ]
        for query in queries:
            wanted_status = StatusCode.parse(query["status"]) if "status" in query else None
            expected = {
                trace_id for trace_id, spans in kept.items()
                if spans[-1].end_ns - spans[0].start_ns >= 0
                and max(s.end_ns for s in spans) - min(s.start_ns for s in spans)
                >= query.get("min_duration_ns", 0)
                and any((query.get("service") in (None, s.service))
                        and (query.get("operation") in (None, s.name))
                        and (wanted_status in (None, s.status))
                        and all(has_attribute(s, k, v)
                                for k, v in query.get("attributes", {}).items())
                        for s in spans)}
            found = store.search(limit=1000, **query)
            assert {t.trace_id for t in found} == expected, query
            durations = [t.duration_ns for t in found]
            assert durations == sorted(durations, reverse=True)
        assert set(store.services()) == {s.service for spans in kept.values() for s in spans}


def test_attributes_past_the_index_bounds_are_still_found(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(tracestore, "MAX_INDEXED_VALUES", 5)
    monkeypatch.setattr(tracestore, "MAX_INDEXED_KEYS", 3)
    store = SpanStore(max_items=1000)
    for number in range(1, 20):  # request.id: too many values to index
        store.add([span(f"{number:032x}", 1, duration=number,
                        attributes={"request.id": f"r{number}", "zone": "z"})])
    store.add([span("f" * 32, 1, attributes={"k1": "a", "k2": "b", "k3": "c", "late": "yes"})])
    assert ids(store.search(attributes={"request.id": "r7"})) == ["0"]
    assert store.search(attributes={"request.id": "r7"})[0].trace_id == f"{7:032x}"
    assert len(store.search(attributes={"zone": "z"}, limit=100)) == 19
    # "late" came after the key budget was spent: found by reading spans, not the index.
    assert [t.trace_id for t in store.search(attributes={"late": "yes"})] == ["f" * 32]
    assert store.search(attributes={"late": "no"}) == []


def test_stored_spans_cost_the_cycle_collector_nothing_per_span() -> None:
    store = SpanStore(max_items=100_000)
    resource = {"pod": "p"}  # one dict per resource, as the decoder makes them
    gc.collect()
    before = len(gc.get_objects())
    for number in range(1, 501):
        store.add([span(f"{number:032x}", i + 1, parent=1 if i else None,
                        attributes={"i": str(i)}, resource=resource)
                   for i in range(20)])
    gc.collect()  # the first collection a tuple survives drops it from the collector's lists
    gc.collect()
    grown = len(gc.get_objects()) - before
    assert len(store) == 10_000 and grown < 2 * 500, grown  # about one object per trace


# --- the otlp source: shared receivers, a port in use ---------------------------------------

async def test_sources_on_one_address_share_a_receiver() -> None:
    pool = ReceiverPool()
    port = free_port()
    config = OTLPSourceConfig(listen=f"127.0.0.1:{port}", max_logs=1000)
    first = OTLPSource("otlp-a", config, pool=pool)
    second = OTLPSource("otlp-b", OTLPSourceConfig(listen=f"127.0.0.1:{port}", max_logs=5000),
                        pool=pool)
    await asyncio.gather(first.start(), second.start())  # one bind between them
    try:
        assert first.receiver is second.receiver and first.address == second.address
        assert first.logs.max_items == 5000  # the larger bound of the two
        status, _, _ = await post(first.receiver, "/v1/logs", pb_logs(["shared"]), PROTOBUF)
        assert status == 200 and [r.message for r in second.logs.last(1)] == ["shared"]
        await first.aclose()  # the other source still holds it
        assert second.address == f"127.0.0.1:{port}"
        status, _, _ = await post(second.receiver, "/v1/logs", pb_logs(["still"]), PROTOBUF)
        assert status == 200
    finally:
        await second.aclose()
    assert pool.get("127.0.0.1", port) is None
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_port_in_use_is_a_state_message_then_a_retry() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    source = build_source("otlp", OTLPSourceConfig(listen=f"127.0.0.1:{port}"), Path("."))
    assert isinstance(source, OTLPSource)
    sink = CollectingSink()
    task = asyncio.create_task(source.tail(LogQuery(), sink))
    try:
        deadline = time.monotonic() + 5
        while not sink.states and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        [state] = sink.states
        assert not state.ok and state.retry_at is not None and state.retry_at > time.time()
        assert state.message == (f"cannot listen on 127.0.0.1:{port}: the port is in use "
                                 "(another OTLP receiver or collector?)")
        assert not task.done()
        assert await source.listen() == state.message  # the app-start path says the same
        taken.close()  # freed: the next attempt (about a second later) listens
        while not (sink.states[-1].ok) and time.monotonic() < deadline + 5:
            await asyncio.sleep(0.02)
        assert sink.states[-1].ok and source.address == f"127.0.0.1:{port}"
        assert await source.listen() is None
    finally:
        taken.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await source.aclose()


async def test_a_tail_that_falls_behind_gets_a_gap_then_the_newest() -> None:
    source = OTLPSource("otlp", OTLPSourceConfig(listen="127.0.0.1:0", max_logs=100),
                        pool=ReceiverPool())
    sink = CollectingSink()
    task = asyncio.create_task(source.tail(LogQuery(backlog=0), sink))
    try:
        while not sink.states:
            await asyncio.sleep(0.01)
        # 250 records before the tail gets to run once: it can hold only the last 100.
        for start in range(0, 250, 50):
            source.logs.add([LogRecord(time_ns=T0 + i, message=f"m{i}")
                             for i in range(start, start + 50)])
        while len(sink.items) < 101:
            await asyncio.sleep(0.01)
        gap, *lines = sink.items
        assert isinstance(gap, LogGap) and gap.count == 150 and "fell behind" in gap.reason
        assert [r.message for r in lines] == [f"m{i}" for i in range(150, 250)]
        assert await source.search(TraceQuery(limit=5)) == []
        with pytest.raises(TraceNotFoundError):
            await source.trace("ab" * 16)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await source.aclose()


async def test_aclose_ends_a_tail_waiting_to_listen() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        source = OTLPSource("otlp", OTLPSourceConfig(listen=f"127.0.0.1:{port}"),
                            pool=ReceiverPool())
        sink = CollectingSink()
        task = asyncio.create_task(source.tail(LogQuery(), sink))
        while not sink.states:
            await asyncio.sleep(0.01)
        await source.aclose()
        await asyncio.wait_for(task, 2)  # not after the backoff: at once
        assert sink.states[-1].message == "OTLP receiver stopped"
    finally:
        taken.close()


# --- lifecycle ------------------------------------------------------------------------------

async def test_loopback_by_default_and_port_closed_after_stop() -> None:
    served = OTLPReceiver(port=0)
    assert served.address is None and served.url is None
    await served.start()
    await served.start()  # already running: nothing happens
    host, port = served.address.rsplit(":", 1)  # type: ignore[union-attr]
    assert host == "127.0.0.1" and int(port) > 0
    # A kept-alive connection, as the SDK's exporter holds one.
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{served.url}/v1/logs", data=pb_logs(["a"]),
                                headers={"Content-Type": PROTOBUF}) as response:
            assert response.status == 200
        await served.stop()
        assert served.address is None and not served.running
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(host, int(port))
    assert [r.message for r in served.logs.last(5)] == ["a"]  # the store outlives the server
