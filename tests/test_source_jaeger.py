"""JaegerSource against a fake Jaeger on loopback speaking the formats of
shared/fixtures/jaeger: api_v3 first (trace-summaries where there, whole traces where not),
the internal API of older servers found out once, the UI model converted (references, typed
tags, logs, processes), ids normalised, the parameters each API wants, plain TraceQL and
logfmt tags read, and every kind of bad answer as a typed error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.net import LOOPBACK, free_port
from tests.support.trace_fixtures import (
    INTERNAL_TRACE,
    INTERNAL_TRACES_RESPONSE,
    JAEGER_FIXTURES,
    JAEGER_INLINE,
    OTLP_INPUT_FOR_TRANSFORM,
    V3_FIND_TRACES,
    V3_GET_TRACE,
    V3_OPERATIONS,
    V3_SERVICES,
    V3_TRACE_SUMMARIES,
)
from tests.support.tracebackends import FakeJaeger, FakeSpan
from watchdeck.core.config.models import JaegerSourceConfig
from watchdeck.core.errors import (
    BadResponseError,
    ConnectError,
    HTTPStatusError,
    QueryError,
)
from watchdeck.core.otlp.spans import SpanKind, StatusCode
from watchdeck.core.sources import build_source
from watchdeck.core.sources.jaeger import JaegerSource
from watchdeck.core.traces import (
    TraceNotFoundError,
    TraceQuery,
    TraceSource,
    TraceTagSource,
    traceql,
    wire,
)
from watchdeck.core.traces.jaeger_model import spans_from_jaeger, tag_text

SECOND = 10**9
MS = 10**6
NOW = 1_700_000_000.0
T0 = int((NOW - 600) * SECOND)  # ten minutes before "now"
ONE = "00000000000000000000000000000001"


@pytest.fixture(autouse=True)
def _frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "now", lambda: NOW)


def make_source(url: str, **settings: object) -> JaegerSource:
    source = build_source("traces", JaegerSourceConfig(url=url, **settings),  # type: ignore[arg-type]
                          Path("."))
    assert isinstance(source, JaegerSource)
    return source


async def serve(api: str = "v3", *, summaries: bool = True) -> FakeJaeger:
    fake = FakeJaeger(api, summaries=summaries)
    await fake.start()
    return fake


@pytest.fixture
async def jaeger() -> AsyncIterator[FakeJaeger]:
    fake = await serve()
    yield fake
    await fake.stop()


@pytest.fixture
async def old_jaeger() -> AsyncIterator[FakeJaeger]:
    fake = await serve("internal")
    yield fake
    await fake.stop()


@pytest.fixture
async def source(jaeger: FakeJaeger) -> AsyncIterator[JaegerSource]:
    client = make_source(jaeger.url)
    yield client
    await client.aclose()


@pytest.fixture
async def old_source(old_jaeger: FakeJaeger) -> AsyncIterator[JaegerSource]:
    client = make_source(old_jaeger.url)
    yield client
    await client.aclose()


def shop_traces() -> list[FakeSpan]:
    """Three traces of "api": 300 ms ok, 1.2 s with an error in "db", 700 ms ok."""
    return [
        FakeSpan("a1" * 16, "1000000000000001", "GET /chat", "api", T0, 300 * MS,
                 attributes={"http.route": "/chat", "http.status_code": 200}),
        FakeSpan("b2" * 16, "2000000000000001", "POST /chat", "api", T0 + SECOND,
                 1200 * MS, attributes={"http.route": "/chat", "http.method": "POST"}),
        FakeSpan("b2" * 16, "2000000000000002", "SELECT", "db", T0 + SECOND + 10 * MS,
                 900 * MS, parent="2000000000000001", kind="client", error=True,
                 events=[(T0 + SECOND + 20 * MS, "exception", {"exception.type": "Timeout"})]),
        FakeSpan("c3" * 16, "3000000000000001", "GET /chat", "api", T0 + 2 * SECOND,
                 700 * MS, attributes={"http.route": "/chat"}),
    ]


# ---------------------------------------------------------------- fixtures and protocol


@pytest.mark.parametrize("name", sorted(JAEGER_INLINE))
def test_inline_fixtures_match_the_upstream_files(name: str) -> None:
    path = JAEGER_FIXTURES / name
    if not path.is_file():
        pytest.skip("../shared/fixtures is not beside the repository")
    assert json.loads(path.read_text(encoding="utf-8")) == JAEGER_INLINE[name]


def test_build_source_gives_a_trace_source() -> None:
    source = make_source("http://jaeger:16686")
    assert isinstance(source, TraceSource) and source.type == "jaeger"
    assert not isinstance(source, TraceTagSource)  # Jaeger has no tag completion


# ---------------------------------------------------------------- api_v3


async def test_v3_services_and_operations_from_the_golden_snapshots(
        jaeger: FakeJaeger, source: JaegerSource) -> None:
    jaeger.reply("/api/v3/services", body=V3_SERVICES)
    jaeger.reply("/api/v3/operations", body=V3_OPERATIONS)
    assert await source.services() == ["foo"]
    assert await source.operations("foo") == ["get_users"]
    assert jaeger.seen("/api/v3/operations")[0].params == {"service": "foo"}
    assert source.api == "v3"


async def test_v3_trace_by_id_from_the_golden_snapshot(
        jaeger: FakeJaeger, source: JaegerSource) -> None:
    jaeger.reply(f"/api/v3/traces/{ONE}", body=V3_GET_TRACE)
    [span] = await source.trace("1")  # a short id is left-padded for the request
    assert jaeger.paths() == [f"/api/v3/traces/{ONE}"]
    assert (span.trace_id, span.span_id, span.parent_span_id) == (ONE, "0000000000000002", None)
    assert span.name == "foobar" and span.kind is SpanKind.SERVER
    assert span.status is StatusCode.ERROR and span.service == ""


async def test_v3_trace_summaries_from_the_golden_snapshot(
        jaeger: FakeJaeger, source: JaegerSource) -> None:
    jaeger.reply("/api/v3/trace-summaries", body=V3_TRACE_SUMMARIES)
    [summary] = await source.search(TraceQuery(service="frontend"))
    assert summary.trace_id == ONE
    assert (summary.service, summary.operation) == ("frontend", "HTTP GET /")
    assert summary.start_ns == 1000 * SECOND and summary.duration_ns == SECOND
    assert (summary.span_count, summary.error_count) == (2, 1)
    assert summary.services == ("frontend",) and summary.has_root
    assert source.summaries is True


async def test_v3_find_traces_snapshot_when_the_server_has_no_summaries() -> None:
    fake = await serve(summaries=False)
    source = make_source(fake.url)
    try:
        fake.reply("/api/v3/traces", body=V3_FIND_TRACES)
        [summary] = await source.search(TraceQuery(service="foo"))
        assert (summary.trace_id, summary.operation, summary.error_count) == (ONE, "foobar", 1)
        assert fake.paths() == ["/api/v3/trace-summaries", "/api/v3/traces"]
        await source.search(TraceQuery(service="foo"))
        # remembered: no second probe for trace-summaries
        assert fake.paths()[2:] == ["/api/v3/traces"]
    finally:
        await source.aclose()
        await fake.stop()


async def test_v3_search_sends_the_portable_snake_case_parameters(
        jaeger: FakeJaeger, source: JaegerSource) -> None:
    jaeger.add(*shop_traces())
    query = TraceQuery(service="api", operation="POST /chat", min_duration_ns=500 * MS,
                       max_duration_ns=2 * SECOND, status="error",
                       attributes={"http.route": "/chat", "span.http.method": "POST"},
                       start=NOW - 3600, end=NOW + 0.25, limit=5)
    found = await source.search(query)
    params = jaeger.seen("/api/v3/trace-summaries")[0].params
    assert params == {
        "query.service_name": "api", "query.operation_name": "POST /chat",
        "query.start_time_min": "2023-11-14T21:13:20.000000000Z",
        "query.start_time_max": "2023-11-14T22:13:20.250000000Z",
        "query.num_traces": "5", "query.duration_min": "500ms", "query.duration_max": "2s",
        "query.attributes": params["query.attributes"]}
    assert json.loads(params["query.attributes"]) == {
        "http.route": "/chat", "http.method": "POST", "error": "true"}
    # the error is on the db span, not on "POST /chat": Jaeger matches tags per span
    assert found == []
    found = await source.search(TraceQuery(service="db", status="error"))
    assert [s.trace_id for s in found] == ["b2" * 16]


@pytest.mark.parametrize("flavour", ["v3", "v3 without summaries", "internal"])
async def test_search_gives_the_same_summaries_slowest_first_on_every_api(flavour: str
                                                                          ) -> None:
    fake = await serve("internal" if flavour == "internal" else "v3",
                       summaries=flavour == "v3")
    source = make_source(fake.url)
    try:
        fake.add(*shop_traces())
        found = await source.search(TraceQuery(service="api", limit=10))
        assert [s.trace_id for s in found] == ["b2" * 16, "c3" * 16, "a1" * 16]
        slow = found[0]
        assert (slow.service, slow.operation, slow.start_ns) == ("api", "POST /chat", T0 + SECOND)
        assert slow.duration_ns == 1200 * MS
        assert (slow.span_count, slow.error_count, slow.services) == (2, 1, ("api", "db"))
        # the window and the limit narrow it; the trace's own duration is checked too
        found = await source.search(TraceQuery(service="api", min_duration_ns=500 * MS,
                                               max_duration_ns=1000 * MS))
        assert [s.trace_id for s in found] == ["c3" * 16]
        assert await source.search(TraceQuery(service="api", end=NOW - 3600)) == []
        found = await source.search(TraceQuery(service="api", limit=1))
        assert len(found) == 1
    finally:
        await source.aclose()
        await fake.stop()


async def test_full_traces_from_v3_and_internal_apis_are_the_same_spans() -> None:
    new, old = await serve(), await serve("internal")
    sources = [make_source(new.url), make_source(old.url)]
    try:
        for fake in (new, old):
            fake.add(*shop_traces())
        via_v3, via_internal = [await s.trace("b2" * 16) for s in sources]
        assert sources[0].api == "v3" and sources[1].api == "internal"
        assert [(s.span_id, s.parent_span_id, s.name, s.service, s.kind, s.status,
                 s.start_ns, s.end_ns) for s in via_v3] == [
            (s.span_id, s.parent_span_id, s.name, s.service, s.kind, s.status, s.start_ns,
             s.end_ns) for s in via_internal]
        db = via_internal[1]
        assert db.kind is SpanKind.CLIENT and db.status is StatusCode.ERROR
        assert db.events is not None and db.events[0].name == "exception"
        assert db.events[0].attributes == {"exception.type": "Timeout"}
        assert via_v3[0].attributes == via_internal[0].attributes == {
            "http.route": "/chat", "http.method": "POST"}
    finally:
        for source in sources:
            await source.aclose()
        await new.stop()
        await old.stop()


async def test_grpc_gateway_json_streamed_objects_base64_ids_and_enum_names(
        jaeger: FakeJaeger, source: JaegerSource) -> None:
    def chunk(span_id: str, parent: str | None) -> dict[str, object]:
        span = {"traceId": "AAAAAAAAAAAAAAAAAAAAAQ==", "spanId": span_id, "name": "op",
                "kind": "SPAN_KIND_CLIENT", "status": {"code": "STATUS_CODE_OK"},
                "startTimeUnixNano": str(T0), "endTimeUnixNano": str(T0 + MS)}
        if parent:
            span["parentSpanId"] = parent
        return {"result": {"resourceSpans": [{"resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "svc"}}]},
            "scopeSpans": [{"spans": [span]}]}]}}
    body = json.dumps(chunk("AAAAAAAAAAI=", None)) + "\n" + json.dumps(
        chunk("AAAAAAAAAAM=", "AAAAAAAAAAI="))
    jaeger.reply(f"/api/v3/traces/{ONE}", body=body)
    spans = await source.trace(ONE)
    assert [(s.span_id, s.parent_span_id) for s in spans] == [
        ("0000000000000002", None), ("0000000000000003", "0000000000000002")]
    assert all(s.kind is SpanKind.CLIENT and s.status is StatusCode.OK and s.service == "svc"
               for s in spans)


# ---------------------------------------------------------------- the internal API


async def test_fallback_to_the_internal_api_is_found_once(
        old_jaeger: FakeJaeger, old_source: JaegerSource) -> None:
    old_jaeger.add(*shop_traces())
    assert await old_source.services() == ["api", "db"]
    assert old_jaeger.paths() == ["/api/v3/services", "/api/services"]
    assert old_source.api == "internal"
    assert await old_source.operations("api") == ["GET /chat", "POST /chat"]
    assert len(await old_source.trace("a1" * 16)) == 1
    assert old_jaeger.paths()[2:] == ["/api/services/api/operations", f"/api/traces/{'a1' * 16}"]


async def test_an_old_jaeger_ui_page_on_a_v3_path_also_means_the_internal_api(
        old_jaeger: FakeJaeger, old_source: JaegerSource) -> None:
    old_jaeger.reply("/api/v3/traces/" + "a1" * 16, body="<!doctype html><title>Jaeger UI</title>",
                     content_type="text/html")
    old_jaeger.add(*shop_traces())
    assert len(await old_source.trace("a1" * 16)) == 1 and old_source.api == "internal"


async def test_internal_search_parameters(old_jaeger: FakeJaeger,
                                          old_source: JaegerSource) -> None:
    old_jaeger.add(*shop_traces())
    found = await old_source.search(TraceQuery(
        service="api", operation="POST /chat", min_duration_ns=1500 * MS // 2,
        attributes={"http.method": "POST"}, start=NOW - 900.5, end=NOW, limit=3))
    params = old_jaeger.seen("/api/traces")[0].params
    assert params == {"service": "api", "operation": "POST /chat", "minDuration": "750ms",
                      "tags": '{"http.method": "POST"}', "limit": "3",
                      "start": str(int((NOW - 900.5) * 1e6)), "end": str(int(NOW * 1e6))}
    assert [s.trace_id for s in found] == ["b2" * 16]
    # without a window: the last hour before now
    await old_source.search(TraceQuery(service="api"))
    params = old_jaeger.seen("/api/traces")[1].params
    assert (params["start"], params["end"]) == (str(int((NOW - 3600) * 1e6)),
                                                str(int(NOW * 1e6)))


async def test_internal_ui_model_fixture_is_converted(
        old_jaeger: FakeJaeger, old_source: JaegerSource) -> None:
    old_jaeger.reply(f"/api/traces/{ONE}", body={"data": [INTERNAL_TRACE], "total": 1,
                                                 "limit": 0, "offset": 0, "errors": None})
    spans = await old_source.trace("0000000000000001")
    assert [s.span_id for s in spans] == ["0000000000000002", "0000000000000002",
                                          "0000000000000003", "0000000000000004",
                                          "0000000000000005"]
    first, tagged, child, refs, last = spans
    assert all(s.trace_id == ONE for s in spans)
    assert [s.service for s in spans] == ["service-x", "service-x", "service-y", "service-y",
                                          "service-y"]
    assert first.resource == {"service.name": "service-x"}
    assert first.start_ns == 1485467191639875 * 1000 and first.duration_ns == 5000
    assert first.events is not None
    assert [(e.name, e.attributes) for e in first.events] == [("some-event", None),
                                                              ("", {"x": "y"})]
    # typed tags as text: int64 past 2^53 came as a string, binary as base64 → hex
    assert tagged.attributes == {"peer.service": "service-y", "peer.ipv4": "23456",
                                 "error": "true", "temperature": "72.5",
                                 "javascript_limit": "9223372036854775222",
                                 "blob": "00003039"}
    assert tagged.status is StatusCode.ERROR and first.status is StatusCode.UNSET
    assert child.parent_span_id == "0000000000000002"
    # the CHILD_OF in this trace is the parent; the others are links
    assert refs.parent_span_id == "0000000000000002"
    assert refs.links is not None
    assert [(link.trace_id, link.span_id, link.attributes) for link in refs.links] == [
        ("000000000000000000000000000000ff", "00000000000000ff",
         {"opentracing.ref_type": "child_of"}),
        (ONE, "0000000000000002", {"opentracing.ref_type": "follows_from"})]
    assert refs.attributes == {"jaeger.warnings": "some span warning"}
    assert last.parent_span_id == "0000000000000004" and last.duration_ns == 4000


async def test_internal_response_equals_its_otlp_input_read_through_v3(
        jaeger: FakeJaeger, source: JaegerSource, old_jaeger: FakeJaeger,
        old_source: JaegerSource) -> None:
    trace_id = "83a9efd15c1c98a977e0711cc93ee28b"
    jaeger.reply(f"/api/v3/traces/{trace_id}", body={"result": OTLP_INPUT_FOR_TRANSFORM})
    old_jaeger.reply(f"/api/traces/{trace_id}", body=INTERNAL_TRACES_RESPONSE)
    via_v3, via_internal = await source.trace(trace_id), await old_source.trace(trace_id)

    def view(spans: list) -> list[tuple]:
        return [(s.trace_id, s.span_id, s.parent_span_id, s.name, s.start_ns, s.end_ns,
                 s.service, s.kind, s.status, s.attributes, s.scope, s.resource)
                for s in spans]
    assert view(via_v3) == view(via_internal)
    assert len(via_v3) == 2  # the fixture repeats its span: both kept, the UI marks it
    assert via_internal[0].scope == "telemetrygen" and via_internal[0].kind is SpanKind.SERVER


def test_spans_with_missing_or_odd_fields_are_kept_or_skipped_never_a_crash() -> None:
    spans = spans_from_jaeger({"traceID": "abc", "spans": [
        {"spanID": "1", "operationName": None, "tags": [
            {"key": "obj", "type": "string", "value": {"a": [1, 2]}},
            {"key": "flag", "type": "bool", "value": "true"},
            {"key": "span.kind", "type": "string", "value": "PRODUCER"},
            {"key": "otel.status_code", "type": "string", "value": "OK"},
            {"key": "otel.status_description", "type": "string", "value": "fine"},
            {"key": "bad-binary", "type": "binary", "value": "%%%"},
            "not a tag", {"type": "string"}]},
        {"operationName": "no span id"},
        "not a span",
        {"spanID": "2", "process": {"serviceName": "inline", "tags": [
            {"key": "host.name", "type": "string", "value": "h1"}]},
         "references": [{"refType": "CHILD_OF", "spanID": "1"}], "startTime": "12",
         "duration": -5, "logs": [{"fields": []}, None]},
    ], "processes": None})
    first, second = spans
    assert first.trace_id == "00000000000000000000000000000abc"
    assert first.span_id == "0000000000000001" and first.name == "" and first.start_ns == 0
    assert first.attributes == {"obj": '{"a":[1,2]}', "flag": "true", "bad-binary": "%%%"}
    assert first.kind is SpanKind.PRODUCER and first.status is StatusCode.OK
    assert first.status_message == "fine" and first.service == "" and first.resource is None
    assert second.parent_span_id == "0000000000000001" and second.service == "inline"
    assert second.resource == {"host.name": "h1", "service.name": "inline"}
    assert second.start_ns == 12_000 and second.end_ns == 12_000
    assert second.events is not None and second.events[0].time_ns == 12_000
    assert tag_text({"type": "float64", "value": 3}) == "3.0"
    assert tag_text({"type": "int64", "value": 7}) == "7"


# ---------------------------------------------------------------- ids


async def test_trace_ids_are_normalised_before_asking(jaeger: FakeJaeger,
                                                      source: JaegerSource) -> None:
    jaeger.add(FakeSpan("00000000000000000123456789abcdef", "0000000000000009", "op", "svc",
                        T0, MS))
    for given in ("123456789ABCDEF", " 0123456789abcdef ", "AAAAAAAAAAABI0VniavN7w=="):
        [span] = await source.trace(given)
        assert span.trace_id == "00000000000000000123456789abcdef"
    assert set(jaeger.paths()) == {"/api/v3/traces/00000000000000000123456789abcdef"}
    for bad in ("xyz!", "", "0" * 32, "1" * 33):
        with pytest.raises(TraceNotFoundError, match="trace id|not found"):
            await source.trace(bad)
    assert len(jaeger.requests) == 3  # nothing asked for ids that are not ids


# ---------------------------------------------------------------- queries


async def test_plain_traceql_and_logfmt_tags_become_jaeger_parameters(
        jaeger: FakeJaeger, source: JaegerSource) -> None:
    jaeger.add(*shop_traces())
    found = await source.search(TraceQuery(
        query='{ resource.service.name = "api" && name = "POST /chat" && duration > 1s '
              '&& .http.method = "POST" }'))
    assert [s.trace_id for s in found] == ["b2" * 16]
    params = jaeger.seen("/api/v3/trace-summaries")[0].params
    assert params["query.service_name"] == "api"
    assert params["query.operation_name"] == "POST /chat"
    assert params["query.duration_min"] == f"{SECOND + 1}ns"
    assert json.loads(params["query.attributes"]) == {"http.method": "POST"}
    # Jaeger UI's tags field: error=true is the status
    found = await source.search(TraceQuery(service="db", query="error=true"))
    assert [s.trace_id for s in found] == ["b2" * 16]
    assert json.loads(jaeger.seen("/api/v3/trace-summaries")[1].params[
        "query.attributes"]) == {"error": "true"}


async def test_queries_jaeger_cannot_answer(jaeger: FakeJaeger, source: JaegerSource) -> None:
    with pytest.raises(QueryError, match="need a service"):
        await source.search(TraceQuery(operation="x"))
    with pytest.raises(QueryError, match="TraceQL"):
        await source.search(TraceQuery(query='{ .a = "1" } >> { .b = "2" }'))
    with pytest.raises(QueryError, match="tags"):
        await source.search(TraceQuery(service="api", query='a="unclosed'))
    # contradicting the raw query: nothing can match, nothing is asked
    found = await source.search(TraceQuery(service="db",
                                           query='{ resource.service.name = "api" }'))
    assert found == [] and jaeger.requests == []


def test_plain_traceql_is_read_back() -> None:
    query = traceql.parse('{ .service.name = "a \\"q\\"" && span:name = "GET /x" '
                          '&& status = error && traceDuration >= 1.5s && duration < 3s '
                          '&& span.http.status_code = 500 && resource."k 8" = true '
                          '&& .x = "\\u00e9\\n" }')
    assert query.service == 'a "q"' and query.operation == "GET /x"
    assert query.status == "error"
    assert (query.min_duration_ns, query.max_duration_ns) == (1500 * MS, 3 * SECOND - 1)
    assert query.attributes == {"span.http.status_code": "500", "resource.k 8": "true",
                                "x": "é\n"}
    assert traceql.parse("{}") == TraceQuery()
    assert traceql.parse("{ status = ok }").status == "ok"
    for bad in ('{ .a = "1" || .b = "2" }', '{ .a != "1" }', '{ .a =~ "x.*" }',
                '{ .a = "1" } | count() > 2', '{ name = "a" && name = "b" }',
                '{ status = unset }', '{ duration = 1s }', '{ .a = }', '{ .a = "1" &&  }',
                '.a = "1"', '{ kind = server }', '{ .a = "1" } && { .b = "2" }'):
        with pytest.raises(traceql.TraceQLError):
            traceql.parse(bad)


def test_logfmt_tags() -> None:
    assert traceql.parse_logfmt('error=true http.url="/a b" k="q\\"x" bare') == {
        "error": "true", "http.url": "/a b", "k": 'q"x', "bare": ""}
    assert traceql.parse_logfmt("  ") == {}
    with pytest.raises(ValueError):
        traceql.parse_logfmt('a="open')


# ---------------------------------------------------------------- errors


async def test_unknown_trace_is_a_typed_not_found_on_both_apis(
        source: JaegerSource, old_source: JaegerSource) -> None:
    for client in (source, old_source):
        with pytest.raises(TraceNotFoundError, match="not found") as caught:
            await client.trace("dd" * 16)
        assert caught.value.trace_id == "dd" * 16 and caught.value.source == "traces"


async def test_no_match_is_an_empty_list_on_both_apis(
        source: JaegerSource, old_source: JaegerSource) -> None:
    # api_v3 answers 404 "No traces found"; the internal API 200 with no data
    assert await source.search(TraceQuery(service="nothing")) == []
    assert await old_source.search(TraceQuery(service="nothing")) == []


@pytest.mark.parametrize(("status", "body", "content_type", "error", "text"), [
    (400, {"error": {"httpCode": 400, "message": "malformed parameter query.startTimeMin"}},
     "text/plain", QueryError, "HTTP 400: malformed parameter query.startTimeMin"),
    (500, {"error": {"httpCode": 500, "message": "storage unavailable"}}, "text/plain",
     QueryError, "HTTP 500: storage unavailable"),
    (500, "upstream exploded\n", "text/plain", HTTPStatusError,
     "HTTP 500 Internal Server Error: upstream exploded"),
    (502, "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>",
     "text/html", HTTPStatusError, "HTTP 502 Bad Gateway: HTML page: 502 Bad Gateway"),
    (200, '{"services": ["a", "b"', "application/json", BadResponseError, "truncated JSON"),
    (200, "<html><title>Sign in</title></html>", "text/html", BadResponseError,
     "expected JSON, got text/html: HTML page: Sign in"),
    (200, {"services": "api"}, "application/json", BadResponseError, "expected a list"),
    (200, ["api"], "application/json", BadResponseError, "expected an object"),
])
async def test_bad_answers_are_typed_errors(
        jaeger: FakeJaeger, source: JaegerSource, status: int, body: object,
        content_type: str, error: type[Exception], text: str) -> None:
    source.api = "v3"
    jaeger.reply("/api/v3/services", status, body, content_type)
    with pytest.raises(error) as caught:
        await source.services()
    assert text in str(caught.value)
    assert caught.value.source == "traces"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("body", "text"), [
    ({"data": None, "total": 0, "limit": 0, "offset": 0,
      "errors": [{"code": 500, "msg": "cassandra: timeout"}]}, "HTTP 500: cassandra: timeout"),
    ('{"data": [{"traceID": "01", "spans": [', "truncated JSON"),
    ({"data": {"not": "a list"}}, "expected a list of traces"),
    ({"data": [{"traceID": "01", "spans": "none"}]}, "without a spans list"),
    ({"whatever": 1}, "not a Jaeger API response"),
])
async def test_bad_internal_answers_are_typed_errors(
        old_jaeger: FakeJaeger, old_source: JaegerSource, body: object, text: str) -> None:
    old_source.api = "internal"
    old_jaeger.reply(f"/api/traces/{ONE}", 500 if "errors" in str(body) else 200, body)
    with pytest.raises((QueryError, BadResponseError), match=text):
        await old_source.trace(ONE)


async def test_v3_answers_of_the_wrong_shape(jaeger: FakeJaeger, source: JaegerSource) -> None:
    jaeger.reply(f"/api/v3/traces/{ONE}", body={"resourceSpans": []})
    with pytest.raises(BadResponseError, match="without a result"):
        await source.trace(ONE)
    jaeger.reply(f"/api/v3/traces/{ONE}", body={"result": {"resourceSpans": {}}})
    with pytest.raises(BadResponseError, match="not a list"):
        await source.trace(ONE)
    jaeger.reply(f"/api/v3/traces/{ONE}", body={"result": {"resourceSpans": []}})
    with pytest.raises(TraceNotFoundError):
        await source.trace(ONE)
    # a grpc-gateway stream that fails after its first object
    jaeger.reply(f"/api/v3/traces/{ONE}", body=json.dumps(V3_GET_TRACE) + json.dumps(
        {"error": {"grpcCode": 13, "httpCode": 500, "message": "storage: read failed"}}))
    with pytest.raises(QueryError, match="storage: read failed"):
        await source.trace(ONE)
    jaeger.reply("/api/v3/trace-summaries", body={"summaries": {}})
    with pytest.raises(BadResponseError, match="summaries"):
        await source.search(TraceQuery(service="x"))


async def test_unreachable_jaeger() -> None:
    source = make_source(f"http://{LOOPBACK}:{free_port()}")
    try:
        with pytest.raises(ConnectError, match="connection refused"):
            await source.services()
        assert source.api is None  # nothing learnt from a failure
    finally:
        await source.aclose()


async def test_configured_headers_are_sent(jaeger: FakeJaeger) -> None:
    source = make_source(jaeger.url, headers={"x-tenant": "team-a"})
    try:
        await source.services()
    finally:
        await source.aclose()
    assert jaeger.requests[0].headers["x-tenant"] == "team-a"
    assert jaeger.requests[0].headers["accept"] == "application/json"
