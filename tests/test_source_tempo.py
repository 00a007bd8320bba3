"""TempoSource against a fake Tempo on loopback speaking the formats of
shared/fixtures/tempo: TraceQL and tag search (parameters, stripped ids, missing
durations, roots not yet received), traces by id in gogo-jsonpb (v2, and v1 on older
servers, found out once), tag completion (v2 scoped and typed, v1 plain), tenancy, TraceQL
built with correct quoting, and every kind of bad answer as a typed error."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.trace_fixtures import (
    TEMPO_FIXTURES,
    TEMPO_INLINE,
    TEMPO_SEARCH_TAGS,
    TEMPO_SEARCH_TRACEQL,
    TEMPO_TAG_VALUES_V1,
    TEMPO_TAG_VALUES_V2,
    TEMPO_TRACE_ENUMS,
    TEMPO_TRACE_JSONPB,
)
from tests.support.tracebackends import FakeSpan, FakeTempo
from watchdeck.core.config.models import TempoSourceConfig
from watchdeck.core.errors import BadResponseError, HTTPStatusError, QueryError
from watchdeck.core.otlp.spans import SpanKind, StatusCode
from watchdeck.core.sources import build_source
from watchdeck.core.sources.tempo import TempoSource
from watchdeck.core.traces import (
    TraceNotFoundError,
    TraceQuery,
    TraceTagSource,
    traceql,
    wire,
)

SECOND = 10**9
MS = 10**6
NOW = 1_700_000_000.0
T0 = int((NOW - 600) * SECOND)
VULTURE = "3149195ffb0bec05347b48efe8ecc1b0"  # MUkZX/sL7AU0e0jv6OzBsA== in the fixture
MYTHICAL = "4290b5877a9930de79bb428365398ecc"  # QpC1h3qZMN55u0KDZTmOzA==


@pytest.fixture(autouse=True)
def _frozen_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "now", lambda: NOW)


def make_source(url: str, **settings: object) -> TempoSource:
    source = build_source("tempo", TempoSourceConfig(url=url, **settings),  # type: ignore[arg-type]
                          Path("."))
    assert isinstance(source, TempoSource)
    return source


@pytest.fixture
async def tempo() -> AsyncIterator[FakeTempo]:
    fake = FakeTempo()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def old_tempo() -> AsyncIterator[FakeTempo]:
    fake = FakeTempo(v2=False)
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
async def source(tempo: FakeTempo) -> AsyncIterator[TempoSource]:
    client = make_source(tempo.url)
    yield client
    await client.aclose()


@pytest.fixture
async def old_source(old_tempo: FakeTempo) -> AsyncIterator[TempoSource]:
    client = make_source(old_tempo.url)
    yield client
    await client.aclose()


def shop_traces() -> list[FakeSpan]:
    """Three traces: 300 ms (its id has leading zeros), 1.2 s with an error, 0.4 ms."""
    return [
        FakeSpan("000000000000000000a1a1a1a1a1a1a1", "1000000000000001", "GET /chat", "api",
                 T0, 300 * MS, attributes={"http.route": "/chat", "http.status_code": 200},
                 resource={"k8s.pod.name": "api-0"}),
        FakeSpan("b2" * 16, "2000000000000001", "POST /chat", "api", T0 + SECOND, 1200 * MS,
                 attributes={"http.route": "/chat"}),
        FakeSpan("b2" * 16, "2000000000000002", "SELECT", "db", T0 + SECOND + 10 * MS,
                 900 * MS, parent="2000000000000001", kind="client", error=True,
                 events=[(T0 + SECOND + 20 * MS, "exception", {"exception.type": "Timeout"})]),
        FakeSpan("c3" * 16, "3000000000000001", "GET /health", "api", T0 + 2 * SECOND,
                 400_000),
    ]


# ---------------------------------------------------------------- fixtures and protocol


@pytest.mark.parametrize("name", sorted(TEMPO_INLINE))
def test_inline_fixtures_match_the_upstream_files(name: str) -> None:
    path = TEMPO_FIXTURES / name
    if not path.is_file():
        pytest.skip("../shared/fixtures is not beside the repository")
    assert json.loads(path.read_text(encoding="utf-8")) == TEMPO_INLINE[name]


def test_build_source_gives_a_trace_source_with_tag_completion() -> None:
    source = make_source("http://tempo:3200")
    assert isinstance(source, TraceTagSource) and source.type == "tempo"


# ---------------------------------------------------------------- search


async def test_traceql_search_answer_from_the_docs(tempo: FakeTempo,
                                                   source: TempoSource) -> None:
    tempo.reply("/api/search", body=TEMPO_SEARCH_TRACEQL)
    [summary] = await source.search(TraceQuery(query="{ status = error }"))
    assert tempo.seen("/api/search")[0].params == {"q": "{ status = error }", "limit": "20"}
    assert summary.trace_id == "2f3e0cee77ae5dc9c17ade3689eb2e54"
    assert (summary.service, summary.operation) == ("shop-backend", "update-billing")
    assert summary.start_ns == 1684778327699392724 and summary.duration_ns == 557 * MS
    # no serviceStats in this answer: counts unknown, the root's service known
    assert (summary.span_count, summary.error_count) == (0, 0)
    assert summary.services == ("shop-backend",) and summary.has_root


async def test_tag_search_answer_with_stripped_ids(tempo: FakeTempo,
                                                   source: TempoSource) -> None:
    tempo.reply("/api/search", body=TEMPO_SEARCH_TAGS)
    found = await source.search(TraceQuery(query="service.name=frontend",
                                           min_duration_ns=600 * MS))
    assert [s.trace_id for s in found] == ["0000000000000000d6e9329d67b6146a",
                                           "00000000000000001b1ba462b409200d"]
    assert tempo.seen("/api/search")[0].params == {
        "tags": "service.name=frontend", "minDuration": "600ms", "limit": "20"}


async def test_search_of_kept_traces_slowest_first(tempo: FakeTempo,
                                                   source: TempoSource) -> None:
    tempo.add(*shop_traces())
    found = await source.search(TraceQuery())
    assert [s.trace_id for s in found] == ["b2" * 16, "000000000000000000a1a1a1a1a1a1a1",
                                           "c3" * 16]
    slow, _, quick = found
    assert (slow.service, slow.operation, slow.duration_ns) == ("api", "POST /chat",
                                                                1200 * MS)
    assert (slow.span_count, slow.error_count, slow.services) == (2, 1, ("api", "db"))
    assert quick.duration_ns == 0  # durationMs is left out under 1 ms
    assert tempo.seen("/api/search")[0].params == {"q": "{}", "limit": "20"}
    # a duration bound is checked on the answer too (the fake does not read TraceQL)
    found = await source.search(TraceQuery(min_duration_ns=500 * MS, limit=5))
    assert [s.trace_id for s in found] == ["b2" * 16]
    assert len(await source.search(TraceQuery(limit=1))) == 1


async def test_a_trace_whose_root_has_not_arrived(tempo: FakeTempo,
                                                  source: TempoSource) -> None:
    tempo.reply("/api/search", body={"traces": [
        {"traceID": "abc", "rootServiceName": "<root span not yet received>",
         "startTimeUnixNano": "5"}, {"rootServiceName": "no id"}, "junk"]})
    [summary] = await source.search(TraceQuery())
    assert summary.trace_id == "00000000000000000000000000000abc"
    assert (summary.service, summary.operation, summary.has_root) == ("", "", False)
    assert (summary.start_ns, summary.duration_ns) == (5, 0)


async def test_traceql_search_parameters(tempo: FakeTempo, source: TempoSource) -> None:
    await source.search(TraceQuery(
        service="api", operation="POST /chat", status="error",
        attributes={"http.status_code": "500", "span.user": 'a "b"\\c\nd'},
        min_duration_ns=1500 * MS, max_duration_ns=3 * SECOND, start=NOW - 900.5,
        end=NOW - 0.5, limit=7))
    params = tempo.seen("/api/search")[0].params
    assert params == {
        "q": '{ resource.service.name = "api" && name = "POST /chat" && status = error'
             ' && (.http.status_code = 500 || .http.status_code = "500")'
             ' && span.user = "a \\"b\\"\\\\c\\nd" && traceDuration >= 1500ms'
             ' && traceDuration <= 3s }',
        # whole seconds only, widened to cover the window
        "start": str(int(NOW) - 901), "end": str(int(NOW)), "limit": "7"}
    # only one bound given: the other comes from the default window
    await source.search(TraceQuery(start=NOW - 60))
    params = tempo.seen("/api/search")[1].params
    assert (params["start"], params["end"]) == (str(int(NOW) - 60), str(int(NOW)))


async def test_tag_search_parameters(tempo: FakeTempo, source: TempoSource) -> None:
    await source.search(TraceQuery(query='http.url="/a b" error', service="api",
                                   operation="GET /", status="error",
                                   attributes={"resource.k8s.pod.name": "api-0"},
                                   max_duration_ns=250_000))
    assert tempo.seen("/api/search")[0].params == {
        "tags": 'http.url="/a b" error="" service.name=api name="GET /" status.code=error '
                "k8s.pod.name=api-0",
        "maxDuration": "250us", "limit": "20"}
    with pytest.raises(QueryError, match="logfmt"):
        await source.search(TraceQuery(query='a="open'))


async def test_drill_query_and_list_filters_are_combined(tempo: FakeTempo,
                                                         source: TempoSource) -> None:
    drill = '{ resource.service.name = "vllm" }'
    await source.search(TraceQuery(query=drill))
    await source.search(TraceQuery(query=drill, status="error", min_duration_ns=SECOND))
    await source.search(TraceQuery(query=drill + " | count() > 2", status="error"))
    assert [seen.params["q"] for seen in tempo.seen("/api/search")] == [
        drill,  # as written when nothing else is asked
        '{ resource.service.name = "vllm" && status = error && traceDuration >= 1s }',
        '({ resource.service.name = "vllm" } | count() > 2) && { status = error }']


def test_traceql_building_and_quoting() -> None:
    assert traceql.to_traceql(TraceQuery()) == "{}"
    assert traceql.traceql_string('tab\there "q" \\ \x00 é') == (
        '"tab\\there \\"q\\" \\\\ \\x00 é"')
    assert traceql.traceql_attribute("http.route") == ".http.route"
    assert traceql.traceql_attribute(".http.route") == ".http.route"
    assert traceql.traceql_attribute("resource.k8s.pod.name") == "resource.k8s.pod.name"
    assert traceql.traceql_attribute("span.has space") == 'span."has space"'
    assert traceql.traceql_attribute('odd"key') == '."odd\\"key"'
    conditions = traceql.conditions(TraceQuery(attributes={"f": "1.5", "b": "true",
                                                           "n": "-3", "s": "1e5"}))
    assert conditions == ['(.f = 1.5 || .f = "1.5")', '(.b = true || .b = "true")',
                          '(.n = -3 || .n = "-3")', '.s = "1e5"']
    assert [traceql.go_duration(ns) for ns in (0, 1, 1000, 1500 * MS, 90 * SECOND,
                                               2 * 3600 * SECOND, SECOND + 1)] == [
        "0s", "1ns", "1us", "1500ms", "90s", "2h", "1000000001ns"]
    # what it writes, the subset reader reads back
    query = TraceQuery(service='a "b"', operation="x\ny", status="ok",
                       attributes={"span.k": "v\\"}, min_duration_ns=5, max_duration_ns=7)
    assert traceql.parse(traceql.to_traceql(query)) == query


# ---------------------------------------------------------------- traces by id


async def test_v2_trace_by_id_from_the_jsonpb_fixture(tempo: FakeTempo,
                                                      source: TempoSource) -> None:
    tempo.reply(f"/api/v2/traces/{VULTURE}", body={"trace": TEMPO_TRACE_JSONPB})
    spans = await source.trace(VULTURE.upper())
    assert tempo.paths() == [f"/api/v2/traces/{VULTURE}"]
    assert tempo.requests[0].headers["accept"] == "application/json"
    assert len(spans) == 6 and all(s.trace_id == VULTURE for s in spans)
    root = spans[0]
    assert (root.span_id, root.parent_span_id, root.name) == ("4b23de25d1fb6641", None,
                                                              "vulture-68")
    assert spans[1].parent_span_id == "4b23de25d1fb6641"
    assert root.service == "tempo-vulture" and root.resource is not None
    assert root.resource["k8s.pod.name"] == "XkqgWWT"
    assert root.attributes is not None and root.attributes["http.status_code"] == "110"
    assert root.events is not None and len(root.events) == 4
    assert root.duration_ns == 92_000 and root.kind is SpanKind.UNSPECIFIED
    assert [s.seq for s in spans] == [1, 2, 3, 4, 5, 6]
    assert source.v2_traces is True


async def test_v1_fallback_with_enum_names_found_once(old_tempo: FakeTempo,
                                                      old_source: TempoSource) -> None:
    old_tempo.reply(f"/api/traces/{MYTHICAL}",
                    body={"batches": TEMPO_TRACE_ENUMS["resourceSpans"]})
    spans = await old_source.trace(MYTHICAL)
    # the answer holds another trace too: only this one's spans
    assert [(s.service, s.kind, s.status, s.parent_span_id) for s in spans] == [
        ("mythical-server", SpanKind.SERVER, StatusCode.OK, None),
        ("mythical-requester", SpanKind.CLIENT, StatusCode.UNSET, "d606579e57787587")]
    assert old_tempo.paths() == [f"/api/v2/traces/{MYTHICAL}", f"/api/traces/{MYTHICAL}"]
    assert old_source.v2_traces is False
    await old_source.trace(MYTHICAL)
    assert old_tempo.paths()[2:] == [f"/api/traces/{MYTHICAL}"]


async def test_kept_traces_round_trip_through_both_versions(
        tempo: FakeTempo, source: TempoSource, old_tempo: FakeTempo,
        old_source: TempoSource) -> None:
    for fake in (tempo, old_tempo):
        fake.add(*shop_traces())
    new, old = await source.trace("b2" * 16), await old_source.trace("b2" * 16)
    assert new == old
    api, db = new
    assert (api.span_id, api.name, api.service, api.kind, api.start_ns, api.end_ns) == (
        "2000000000000001", "POST /chat", "api", SpanKind.SERVER, T0 + SECOND,
        T0 + SECOND + 1200 * MS)
    assert db.parent_span_id == api.span_id and db.status is StatusCode.ERROR
    assert db.events is not None and db.events[0].attributes == {"exception.type": "Timeout"}
    [short] = await source.trace("a1a1a1a1a1a1a1")  # leading zeros left out by the caller
    assert short.resource == {"service.name": "api", "k8s.pod.name": "api-0"}
    assert short.attributes == {"http.route": "/chat", "http.status_code": "200"}


async def test_unknown_trace_is_a_typed_not_found(tempo: FakeTempo, source: TempoSource,
                                                  old_source: TempoSource) -> None:
    with pytest.raises(TraceNotFoundError):
        await source.trace("dd" * 16)  # v2 unknown yet: v1 asked too, also 404
    assert source.v2_traces is None
    tempo.add(*shop_traces())
    await source.trace("b2" * 16)
    with pytest.raises(TraceNotFoundError) as caught:
        await source.trace("dd" * 16)
    assert caught.value.trace_id == "dd" * 16 and caught.value.source == "tempo"
    assert tempo.paths()[-1] == f"/api/v2/traces/{'dd' * 16}"  # v2 known: v1 not asked
    with pytest.raises(TraceNotFoundError):
        await old_source.trace("dd" * 16)
    with pytest.raises(TraceNotFoundError, match="not a trace id"):
        await source.trace("not-an-id")
    tempo.reply(f"/api/v2/traces/{'ee' * 16}", body={"trace": {}})
    with pytest.raises(TraceNotFoundError):
        await source.trace("ee" * 16)


# ---------------------------------------------------------------- tags


async def test_tag_names_and_values_v2(tempo: FakeTempo, source: TempoSource) -> None:
    tempo.add(*shop_traces())
    assert await source.tag_names() == [
        "duration", "kind", "name", "resource.k8s.pod.name", "resource.service.name",
        "span.http.route", "span.http.status_code", "status"]
    assert await source.services() == ["api", "db"]
    assert await source.operations("db") == ["SELECT"]
    assert tempo.seen("/api/v2/search/tag/name/values")[0].params == {
        "q": '{ resource.service.name = "db" }'}
    assert await source.tag_values("span.http.status_code") == ["200"]
    tempo.reply("/api/v2/search/tag/resource.service.name/values", body=TEMPO_TAG_VALUES_V2)
    assert await source.services() == ["article-service", "auth-service", "billing-service",
                                       "cart-service", "postgres", "shop-backend"]
    tempo.reply("/api/v2/search/tags", body={"scopes": [
        {"name": "span", "tags": ["a b", "ok"]}, {"name": "event", "tags": ["exception.type"]},
        {"name": "intrinsic", "tags": ["traceDuration"]}]})
    assert await source.tag_names() == ["event.exception.type", "span.\"a b\"", "span.ok",
                                        "traceDuration"]


async def test_tag_names_and_values_fall_back_to_v1(old_tempo: FakeTempo,
                                                    old_source: TempoSource) -> None:
    old_tempo.add(*shop_traces())
    names = await old_source.tag_names()
    assert names == [".http.route", ".http.status_code", ".k8s.pod.name", ".service.name"]
    assert old_source.v2_tags is False
    assert await old_source.tag_values(".k8s.pod.name") == ["api-0"]
    old_tempo.reply("/api/search/tag/service.name/values", body=TEMPO_TAG_VALUES_V1)
    assert await old_source.services() == sorted(TEMPO_TAG_VALUES_V1["tagValues"])
    # v2 was asked once, then v1 only
    assert [p for p in old_tempo.paths() if p.startswith("/api/v2")] == ["/api/v2/search/tags"]


# ---------------------------------------------------------------- tenancy and errors


async def test_x_scope_orgid_is_sent_on_every_request() -> None:
    fake = FakeTempo(tenant="team-a")
    await fake.start()
    source = make_source(fake.url, headers={"X-Scope-OrgID": "team-a"})
    anonymous = make_source(fake.url)
    try:
        fake.add(*shop_traces())
        await source.search(TraceQuery())
        await source.trace("b2" * 16)
        await source.tag_names()
        await source.services()
        assert {seen.headers["x-scope-orgid"] for seen in fake.requests} == {"team-a"}
        with pytest.raises(HTTPStatusError, match="401 Unauthorized: no org id"):
            await anonymous.search(TraceQuery())
    finally:
        await source.aclose()
        await anonymous.aclose()
        await fake.stop()


@pytest.mark.parametrize(("status", "body", "content_type", "error", "text"), [
    (400, "invalid TraceQL query: parse error at line 1, col 3: syntax error\n",
     "text/plain", QueryError, "HTTP 400: invalid TraceQL query: parse error at line 1"),
    (400, "range specified by start and end exceeds 168h0m0s. received start=1 end=900000",
     "text/plain", QueryError, "exceeds 168h0m0s"),
    (500, "error querying ingesters: context deadline exceeded", "text/plain",
     HTTPStatusError, "HTTP 500 Internal Server Error: error querying ingesters"),
    (502, "<html><head><title>502 Bad Gateway</title></head></html>", "text/html",
     HTTPStatusError, "HTTP 502 Bad Gateway: HTML page: 502 Bad Gateway"),
    (200, '{"traces": [{"traceID": "2f3e0cee77ae5dc9c17ade3689eb2e54", "rootSer',
     "application/json", BadResponseError, "truncated JSON"),
    (200, '{"traces": [}, "metrics": {}}', "application/json", BadResponseError,
     "invalid JSON"),
    (200, {"traces": {"a": 1}}, "application/json", BadResponseError, "traces is not a list"),
    (200, [1, 2], "application/json", BadResponseError, "not an object"),
    (200, "", "application/json", BadResponseError, "empty body"),
])
async def test_bad_search_answers_are_typed_errors(
        tempo: FakeTempo, source: TempoSource, status: int, body: object,
        content_type: str, error: type[Exception], text: str) -> None:
    tempo.reply("/api/search", status, body, content_type)
    with pytest.raises(error) as caught:
        await source.search(TraceQuery())
    assert text in str(caught.value)
    assert caught.value.source == "tempo"  # type: ignore[attr-defined]


async def test_bad_trace_answers_are_typed_errors(tempo: FakeTempo,
                                                  source: TempoSource) -> None:
    path = f"/api/v2/traces/{VULTURE}"
    tempo.reply(path, body=b"\x0a\x02\x08\x01", content_type="application/protobuf")
    with pytest.raises(BadResponseError, match="expected JSON, got application/protobuf"):
        await source.trace(VULTURE)
    tempo.reply(path, body={"trace": []})
    with pytest.raises(BadResponseError, match="without a trace object"):
        await source.trace(VULTURE)
    tempo.reply(path, body={"trace": {"resourceSpans": "x"}})
    with pytest.raises(BadResponseError, match="resourceSpans is not a list"):
        await source.trace(VULTURE)
    tempo.reply(path, 422, "trace exceeds max size (max bytes: 5000000)", "text/plain")
    with pytest.raises(HTTPStatusError, match="422 Unprocessable Entity: trace exceeds"):
        await source.trace(VULTURE)
    # spans without usable ids are left out, the rest kept
    tempo.reply(path, body={"trace": {"resourceSpans": [{"scopeSpans": [{"spans": [
        {"traceId": "MUkZX/sL7AU0e0jv6OzBsA==", "spanId": "SyPeJdH7ZkE="},
        {"traceId": "MUkZX/sL7AU0e0jv6OzBsA==", "spanId": "???"}, {"name": "no ids"}]}]}]}})
    [span] = await source.trace(VULTURE)
    assert (span.name, span.start_ns, span.end_ns, span.service) == ("", 0, 0, "")
    tempo.reply("/api/v2/search/tags", body={"scopes": "x"})
    with pytest.raises(BadResponseError, match="scopes"):
        await source.tag_names()
