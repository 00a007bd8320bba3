"""Exemplars: Prometheus's ``/api/v1/query_exemplars``, the embedded engine's own store of
OpenMetrics exemplars, and the engine serving them in Prometheus's shape.

A real prometheus_client exporter in this process observes latencies with exemplars; a
real Prometheus (exemplar storage on) and the embedded engine scrape it, and must give
the same exemplars.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from tests.support.fake_http import FakeHTTPServer, Reply
from tests.support.net import LOOPBACK, free_port
from tests.support.prometheus import PrometheusServer
from watchdeck.core.config.models import PrometheusSourceConfig, ScrapeSourceConfig
from watchdeck.core.config.types import convert
from watchdeck.core.engine.exemplars import ExemplarStore, query, selectors
from watchdeck.core.engine.matchers import Matcher
from watchdeck.core.engine.promql.errors import PromQLError
from watchdeck.core.engine.promql.parser import parse_full
from watchdeck.core.engine.runtime import EmbeddedEngine
from watchdeck.core.engine.scrape import Scraper, Target, exemplar_ms, strip_exemplars
from watchdeck.core.engine.server import serve
from watchdeck.core.engine.storage import Storage, label_key
from watchdeck.core.errors import BadResponseError, HTTPStatusError, QueryError
from watchdeck.core.model import Exemplar, normalise_id
from watchdeck.core.sources.prometheus import PrometheusSource
from watchdeck.core.sources.scrape import ScrapeSource

LATENCY = "wdx_latency_seconds"
REQUESTS = "wdx_requests"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

TRACE_A = "4BF92F3577B34DA6A3CE929D0E0E4736"
SPAN_A = "00F067AA0BA902B7"
TRACE_B16 = "a3ce929d0e0e4736"  # a 64-bit (Jaeger) id: left-padded to 32
TRACE_OPAQUE = "EpTxMJ40fUus7aGY"  # Prometheus's own docs example: not an id
TRACE_D = "0af7651916cd43dd8448eb211c80319c"
TRACE_E = "b7ad6b7169203331b7ad6b7169203331"
TRACE_F = "5b8efff798038103d269b633813fc60c"


# --------------------------------------------------------------------- the live world


@dataclass
class World:
    prometheus: PrometheusServer
    engine: EmbeddedEngine
    target: str
    between: float  # after the first batch of exemplars, before the second
    prometheus_off: PrometheusServer


def _get_json(url: str, path: str, **params: str) -> tuple[int, Any]:
    full = f"{url}{path}?{urllib.parse.urlencode(params)}"
    try:
        with urllib.request.urlopen(full, timeout=5) as response:  # noqa: S310 - loopback
            body = response.read()
            return response.status, json.loads(body) if body else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _count(data: Any) -> int:
    return sum(len(item["exemplars"]) for item in data or ())


def _wait_for_exemplars(prometheus: PrometheusServer, expected: int, timeout: float = 30.0
                        ) -> None:
    deadline = time.monotonic() + timeout
    seen = -1
    while time.monotonic() < deadline:
        status, body = _get_json(prometheus.url, "/api/v1/query_exemplars",
                                 query=f'{{__name__=~"{LATENCY}_bucket|{REQUESTS}_total"}}')
        seen = _count(body["data"]) if status == 200 else -1
        if seen == expected:
            return
        time.sleep(0.1)
    raise TimeoutError(f"Prometheus holds {seen} exemplars, not {expected}")


def _scrape(engine: EmbeddedEngine) -> None:
    async def once() -> None:
        await engine.scraper.scrape_all()
        await engine.scraper.aclose()

    asyncio.run(once())


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    registry = CollectorRegistry()
    latency = Histogram(LATENCY, "Request latency.", registry=registry,
                        buckets=(0.1, 0.5, 1.0, 5.0))
    requests = Counter(REQUESTS, "Requests.", registry=registry)
    port = free_port()
    server, _ = start_http_server(port, addr=LOOPBACK, registry=registry)
    target = f"{LOOPBACK}:{port}"
    workdir = tmp_path_factory.mktemp("exemplars")
    prometheus = PrometheusServer(workdir / "on", [target], exemplars=True)
    prometheus_off = PrometheusServer(workdir / "off", [target])
    engine = EmbeddedEngine([Target(f"http://{target}/metrics", job="app")], interval=1)
    try:
        prometheus.start()
        prometheus_off.start()
        # First batch: one exemplar per bucket, ids in several spellings.
        latency.observe(0.05, exemplar={"trace_id": TRACE_A, "span_id": SPAN_A})
        latency.observe(0.3, exemplar={"traceID": TRACE_B16})
        latency.observe(7.5, exemplar={"trace_id": TRACE_OPAQUE})
        requests.inc(exemplar={"traceId": TRACE_D})
        _wait_for_exemplars(prometheus, 4)
        _scrape(engine)
        _scrape(engine)  # the same exemplars again: kept once
        between = time.time()
        time.sleep(0.05)
        # Second batch: a newer exemplar for the first bucket, one for another.
        latency.observe(0.08, exemplar={"trace_id": TRACE_E})
        latency.observe(0.9, exemplar={"trace_id": TRACE_F, "span_id": "1"})
        _wait_for_exemplars(prometheus, 6)
        _scrape(engine)
        yield World(prometheus, engine, target, between, prometheus_off)
    finally:
        prometheus.stop()
        prometheus_off.stop()
        server.shutdown()
        server.server_close()


def prometheus_client_for(url: str) -> PrometheusSource:
    config = convert(PrometheusSourceConfig, {"type": "prometheus", "url": url})
    return PrometheusSource("prom", config, Path.cwd())


def scrape_source_for(engine: EmbeddedEngine) -> ScrapeSource:
    config = convert(ScrapeSourceConfig, {"type": "scrape"})
    return ScrapeSource("engine", config, Path.cwd(), engine=engine)


@pytest.fixture
async def engine_url(world: World) -> AsyncIterator[str]:
    port = free_port()
    runner = await serve(world.engine, LOOPBACK, port)
    yield f"http://{LOOPBACK}:{port}"
    await runner.cleanup()


def _sorted(data: Any) -> Any:
    if data is None:
        return None
    return sorted(data, key=lambda item: json.dumps(item["seriesLabels"], sort_keys=True))


# --------------------------------------------------------------------- live tests


async def test_prometheus_gives_the_exemplars_with_their_trace_ids(world: World) -> None:
    prom = prometheus_client_for(world.prometheus.url)
    found = await prom.query_exemplars(f"{LATENCY}_bucket", time.time() - 600, time.time())
    await prom.aclose()
    by_value = {e.value: e for e in found}
    assert sorted(by_value) == [0.05, 0.08, 0.3, 0.9, 7.5]
    first = by_value[0.05]
    assert first.trace_id == TRACE_A.lower() and first.span_id == SPAN_A.lower()
    assert first.labels == {"trace_id": TRACE_A, "span_id": SPAN_A}  # kept as sent
    assert first.series_labels == {"__name__": f"{LATENCY}_bucket", "le": "0.1",
                                   "job": "app", "instance": world.target}
    assert by_value[0.3].trace_id == "0" * 16 + TRACE_B16
    assert by_value[7.5].trace_id is None and by_value[7.5].series_labels["le"] == "+Inf"
    assert by_value[0.08].trace_id == TRACE_E and by_value[0.9].span_id == "0" * 15 + "1"
    assert [e.timestamp for e in found] == sorted(e.timestamp for e in found)
    assert all(world.between - 600 < e.timestamp < time.time() + 1 for e in found)


async def test_the_engine_keeps_the_same_exemplars_as_prometheus(world: World) -> None:
    prom = prometheus_client_for(world.prometheus.url)
    engine = scrape_source_for(world.engine)
    for expr in (f"{LATENCY}_bucket",
                 f"histogram_quantile(0.99, sum by (le) (rate({LATENCY}_bucket[5m])))",
                 f'{LATENCY}_bucket{{le=~"0.1|1.0"}} or rate({REQUESTS}_total[1m])',
                 f'{{__name__="{REQUESTS}_total"}}'):
        for start in (time.time() - 600, world.between):
            expected = await prom.query_exemplars(expr, start, time.time())
            assert expected or start == world.between, expr
            assert await engine.query_exemplars(expr, start, time.time()) == expected, expr
    counter = await engine.query_exemplars(f"{REQUESTS}_total", 0, time.time())
    assert [e.trace_id for e in counter] == [TRACE_D]
    await prom.aclose()
    # Scraped three times, the first batch's exemplars are each kept once.
    assert len(world.engine.exemplars) == 6
    assert world.engine.exemplars.stats()["duplicates"] >= 4


@pytest.mark.parametrize("params", [
    {"query": f"{LATENCY}_bucket"},
    {"query": f"sum(rate({LATENCY}_bucket[5m])) by (le)", "start": "0"},
    {"query": f'{LATENCY}_bucket{{le="0.1"}}', "end": "1e10"},
    {"query": f"{LATENCY}_bucket", "start": "0", "end": "1"},
    {"query": "nonexistent_metric"},
    {"query": "1 + 1"},
    {"query": "sum("},
    {"query": '{le=""}'},
    {},
    {"query": "up", "start": "10", "end": "5"},
    {"query": "up", "start": "yesterday"},
])
async def test_the_engine_endpoint_answers_as_prometheus_does(
        world: World, engine_url: str, params: dict[str, str]) -> None:
    status, expected = await asyncio.to_thread(
        _get_json, world.prometheus.url, "/api/v1/query_exemplars", **params)
    got_status, got = await asyncio.to_thread(
        _get_json, engine_url, "/api/v1/query_exemplars", **params)
    assert got_status == status
    if isinstance(expected, dict) and expected.get("status") == "success":
        assert _sorted(got["data"]) == _sorted(expected["data"])
    else:  # 204 without a body, or the same error JSON
        assert got == expected


async def test_the_engine_endpoint_read_by_watchdecks_client(world: World, engine_url: str
                                                             ) -> None:
    over_http = prometheus_client_for(engine_url)
    direct = scrape_source_for(world.engine)
    now = time.time()
    got = await over_http.query_exemplars(f"{LATENCY}_bucket", now - 600, now)
    assert got == await direct.query_exemplars(f"{LATENCY}_bucket", now - 600, now)
    assert len(got) == 5
    assert await over_http.query_exemplars("1 + 1", now - 600, now) == []
    with pytest.raises(QueryError) as caught:
        await over_http.query_exemplars("sum(", now - 600, now)
    assert caught.value.error_type == "bad_data"
    assert "unclosed left parenthesis" in caught.value.message
    with pytest.raises(QueryError, match="end timestamp must not be before start"):
        await direct.query_exemplars("up", now, now - 600)
    await over_http.aclose()


async def test_without_exemplar_storage_prometheus_answers_empty(world: World) -> None:
    """Prometheus 2.42 without ``--enable-feature=exemplar-storage`` still serves the
    endpoint, with an empty list: indistinguishable from "none in this window"."""
    world.prometheus_off.wait_for(f"{LATENCY}_bucket")
    status, body = _get_json(world.prometheus_off.url, "/api/v1/query_exemplars",
                             query=f"{LATENCY}_bucket")
    assert (status, body) == (200, {"status": "success", "data": []})
    prom = prometheus_client_for(world.prometheus_off.url)
    assert await prom.query_exemplars(f"{LATENCY}_bucket", 0, time.time()) == []
    await prom.aclose()


async def test_the_demo_fleets_exemplars_reach_the_engine() -> None:
    """``watchdeck demo``'s path: the engine scrapes the fleet's OpenMetrics and a latency
    query's exemplars name the requests' traces."""
    from watchdeck.demo import Fleet, FleetConfig

    async with Fleet(FleetConfig(seed=7, incident_kinds=())) as fleet:
        engine = EmbeddedEngine([Target(url, job="demo") for url in fleet.targets])
        source = scrape_source_for(engine)
        for _ in range(2):
            await engine.scraper.scrape_all()
        await engine.stop()
    found = await source.query_exemplars(
        "histogram_quantile(0.99, sum by (le) "
        "(rate(vllm:e2e_request_latency_seconds_bucket[5m])))", 0, time.time() + 3600)
    assert found
    assert all(e.series_labels["__name__"] == "vllm:e2e_request_latency_seconds_bucket"
               for e in found)
    assert all(e.trace_id and len(e.trace_id) == 32 and e.span_id and len(e.span_id) == 16
               for e in found)
    assert all(e.trace_id == e.labels["trace_id"] for e in found)


# --------------------------------------------------------------------- the store


def key(**labels: str) -> tuple[tuple[str, str], ...]:
    return label_key({"__name__": "m_bucket", **labels})


ANY = [[Matcher("__name__", "=", "m_bucket")]]


def test_the_same_exemplar_scraped_again_is_kept_once() -> None:
    store = ExemplarStore()
    k = key(le="1")
    assert store.add(k, {"trace_id": "a"}, 0.5, 1_000)
    assert not store.add(k, {"trace_id": "a"}, 0.5, 1_000)  # the next scrape's copy
    assert not store.add(k, {"trace_id": "b"}, 0.7, 900)  # older than the newest
    assert not store.add(k, {"trace_id": "b"}, 0.7, 1_000)  # not newer either
    assert store.add(k, {"trace_id": "b"}, 0.7, 1_001)
    # Without a timestamp an exemplar gets each scrape's time; equal labels and value
    # are still the same exemplar (Prometheus compares timestamps only when there is one).
    assert store.add(k, {"trace_id": "c"}, 0.2, 2_000, has_timestamp=False)
    assert not store.add(k, {"trace_id": "c"}, 0.2, 3_000, has_timestamp=False)
    assert store.add(k, {"trace_id": "c"}, 0.3, 4_000, has_timestamp=False)
    ((labels, entries),) = store.select(ANY)
    assert labels == dict(k)
    assert [(e[0]["trace_id"], e[1], e[2]) for e in entries] == [
        ("a", 0.5, 1_000), ("b", 0.7, 1_001), ("c", 0.2, 2_000), ("c", 0.3, 4_000)]
    stats = store.stats()
    assert (stats["duplicates"], stats["out_of_order"], stats["exemplars"]) == (2, 2, 4)


def test_the_ring_overwrites_the_oldest_and_forgets_empty_series() -> None:
    store = ExemplarStore(capacity=5, per_series=100)
    for i in range(4):
        store.add(key(le="0.1"), {"trace_id": f"{i:x}"}, 0.01, 1_000 + i)
    for i in range(4):
        store.add(key(le="1"), {"trace_id": f"f{i:x}"}, 0.5, 2_000 + i)
    assert len(store) == 5  # capacity: the three oldest of le="0.1" were overwritten
    found = dict((labels["le"], [e[2] for e in entries]) for labels, entries in store.select(ANY))
    assert found == {"0.1": [1_003], "1": [2_000, 2_001, 2_002, 2_003]}
    store.add(key(le="1"), {"trace_id": "ff"}, 0.5, 2_004)
    assert [labels["le"] for labels, _ in store.select(ANY)] == ["1"]
    assert store.stats()["series"] == 1  # the index holds no series without exemplars
    for i in range(1_000):  # much more than the capacity: memory stays as it was
        store.add(key(le=str(i % 7)), {"trace_id": f"{i:032x}"}, 1.0, 10_000 + i)
    assert len(store) == 5 and store.stats()["series"] <= 5


def test_a_busy_series_cannot_push_out_a_rare_one() -> None:
    store = ExemplarStore(capacity=100, per_series=10)
    store.add(key(le="+Inf"), {"trace_id": "51o4"}, 30.0, 1_000)  # the slow request
    for i in range(500):
        store.add(key(le="0.1"), {"trace_id": f"{i:x}"}, 0.01, 2_000 + i)
    found = {labels["le"]: entries for labels, entries in store.select(ANY)}
    assert found["+Inf"][0][0] == {"trace_id": "51o4"}
    assert [e[2] for e in found["0.1"]] == list(range(2_490, 2_500))  # its newest ten
    assert len(store) == 11


def test_the_time_window_and_matchers_select() -> None:
    store = ExemplarStore()
    for i, le in enumerate(("0.1", "1", "+Inf")):
        store.add(key(le=le), {"trace_id": f"{i + 1:x}"}, float(i), 1_000 * (i + 1))
    store.add(label_key({"__name__": "other_total"}), {"trace_id": "9"}, 1.0, 1_500)
    assert [x[0]["le"] for x in store.select(ANY, 1_500, 3_000)] == ["+Inf", "1"]
    assert store.select(ANY, 3_001, None) == []
    both = query(store, 'm_bucket{le!="1"} / on() group_left other_total', None, None)
    assert [x[0].get("le") for x in both or ()] == ["+Inf", "0.1", None]
    assert query(store, "vector(1) + 2", None, None) is None  # no selector at all
    with pytest.raises(PromQLError, match="end timestamp must not be before start"):
        query(store, "m_bucket", 2, 1)
    with pytest.raises(PromQLError, match="parse error"):
        query(store, "m_bucket{", None, None)


def test_selectors_are_found_anywhere_in_a_query() -> None:
    expr = parse_full('sum(rate(a[5m] offset 1m)) / on() (b @ 100) + max_over_time('
                      'c{x=~"y.*"}[10m:1m]) + label_replace(d, "a", "b", "c", "d")')
    found = [{str(m) for m in matchers} for matchers in selectors(expr)]
    assert found == [{'__name__="a"'}, {'__name__="b"'}, {'__name__="c"', 'x=~"y.*"'},
                     {'__name__="d"'}]


def test_refused_exemplars() -> None:
    store = ExemplarStore()
    assert not store.add(key(), {"trace_id": "x" * 200}, 1.0, 1)  # over 128 characters
    assert not store.add(key(), {"trace_id": "a"}, 1.0, 2**63 - 1)  # no sane time
    assert store.add(key(), {}, 1.0, 1)  # no labels at all: still an exemplar
    assert store.add(key(le="\x00"), {"odd": "nul\x00inside"}, 1.0, 1)
    assert store.select([[Matcher("le", "=", "\x00")]])[0][1][0][0] == {"odd": "nul\x00inside"}
    assert store.stats()["invalid"] == 2
    with pytest.raises(ValueError):
        ExemplarStore(capacity=0)


def test_memory_per_exemplar_is_small_and_bounded() -> None:
    """The figure quoted in the notes: about 150 bytes per exemplar with trace and span
    ids, whatever the number of series."""
    store = ExemplarStore(capacity=20_000, per_series=1_000)
    for i in range(40_000):
        store.add(key(le=str(i % 40)), {"trace_id": f"{i:032x}", "span_id": f"{i:016x}"},
                  i / 1000, 1_000_000 + i)
    stats = store.stats()
    assert stats["exemplars"] == 20_000
    assert 100 < stats["bytes_per_exemplar"] < 200
    assert stats["bytes"] < 20_000 * 200


# --------------------------------------------------------------------- scraping


def _fake_openmetrics(body: bytes) -> FakeHTTPServer:
    return FakeHTTPServer(lambda method, path, _: Reply(body=body, content_type=OPENMETRICS))


async def test_a_bad_exemplar_loses_only_the_exemplars() -> None:
    long_label = "x" * 130
    body = f"""# TYPE lat histogram
lat_bucket{{le="0.5",note="a # b"}} 3 # {{trace_id="{long_label}"}} 0.42 1700000000.5
lat_bucket{{le="+Inf",note="a # b"}} 4 # {{trace_id="abc"}} 9 1700000001
lat_count{{note="a # b"}} 4
lat_sum{{note="a # b"}} 1.5
# EOF
""".encode()
    target = _fake_openmetrics(body)
    storage = Storage()
    scraper = Scraper(storage, [Target(f"{target.url}/metrics")], interval=1)
    await scraper.scrape_all()
    await scraper.aclose()
    target.stop()
    health = scraper.health[f"{target.url}/metrics"]
    assert health.health == "up" and "too long" in health.exemplar_error
    assert len(storage.select([Matcher("__name__", "=", "lat_bucket")], 0, 2**62)) == 2
    assert len(scraper.exemplars) == 0
    (bucket,) = storage.select([Matcher("le", "=", "+Inf")], 0, 2**62)
    assert bucket.labels["note"] == "a # b"  # a '#' inside a label value is not an exemplar


async def test_exemplars_without_timestamps_get_the_scrape_time_once() -> None:
    body = b"""# TYPE lat histogram
lat_bucket{le="1"} 3 # {trace_id="0af7651916cd43dd8448eb211c80319c"} 0.5
lat_bucket{le="+Inf"} 3
lat_count 3
lat_sum 1.5
# EOF
"""
    target = _fake_openmetrics(body)
    now = [1_700_000_000.0]
    scraper = Scraper(Storage(), [Target(f"{target.url}/metrics")], interval=1,
                      clock=lambda: now[0])
    for _ in range(3):
        await scraper.scrape_all()
        now[0] += 1
    await scraper.aclose()
    target.stop()
    (exemplars,) = scraper.exemplars.by_series.values()
    assert [(e.trace_id, e.value, e.timestamp) for e in exemplars] == [
        ("0af7651916cd43dd8448eb211c80319c", 0.5, 1_700_000_000.0)]


def test_exemplar_times_are_read_as_prometheus_reads_them() -> None:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    text = ('# TYPE c counter\nc_total 1 # {a="b"} 1 1795675943.4344556\n'
            'c_created 1\n# EOF\n')
    (family,) = text_string_to_metric_families(text)
    exemplar = family.samples[0].exemplar
    assert exemplar_ms(exemplar.timestamp) == 1795675943434  # truncated, as Go does
    assert exemplar_ms(1.5e9) == 1_500_000_000_000
    assert strip_exemplars('m{a="x # y"} 1 # {t="1"} 2 3\n# EOF') == 'm{a="x # y"} 1\n# EOF'
    assert strip_exemplars('m{a="q\\" # "} 1\n') == 'm{a="q\\" # "} 1\n'


# --------------------------------------------------------------------- the client


# Prometheus's documented example (shared/fixtures/prometheus/query_exemplars_response.json).
UPSTREAM = {"status": "success", "data": [
    {"seriesLabels": {"__name__": "test_exemplar_metric_total", "instance": "localhost:8090",
                      "job": "prometheus", "service": "bar"},
     "exemplars": [{"labels": {"trace_id": "EpTxMJ40fUus7aGY"}, "value": "6",
                    "timestamp": 1600096945.479}]},
    {"seriesLabels": {"__name__": "test_exemplar_metric_total", "instance": "localhost:8090",
                      "job": "prometheus", "service": "foo"},
     "exemplars": [{"labels": {"trace_id": "Olp9XHlq763ccsfa"}, "value": "19",
                    "timestamp": 1600096955.479},
                   {"labels": {"trace_id": "hCtjygkIHwAN9vs4"}, "value": "20",
                    "timestamp": 1600096965.489}]}]}


@pytest.fixture
def server() -> Iterator[FakeHTTPServer]:
    reply = {"now": Reply(body=json.dumps(UPSTREAM).encode())}
    fake = FakeHTTPServer(lambda method, path, body: reply["now"])
    fake.reply = reply  # type: ignore[attr-defined]
    yield fake
    fake.stop()


async def test_the_client_reads_prometheus_documented_answer(server: FakeHTTPServer) -> None:
    prom = prometheus_client_for(server.url)
    found = await prom.query_exemplars('test_exemplar_metric_total{job="prometheus"}',
                                       1600096900, 1600097000.25)
    await prom.aclose()
    assert [(e.series_labels["service"], e.value, e.timestamp) for e in found] == [
        ("bar", 6.0, 1600096945.479), ("foo", 19.0, 1600096955.479),
        ("foo", 20.0, 1600096965.489)]
    assert found[0].labels == {"trace_id": "EpTxMJ40fUus7aGY"} and found[0].trace_id is None
    method, path, _, body = server.requests[0]
    assert (method, path) == ("POST", "/api/v1/query_exemplars")
    form = urllib.parse.parse_qs(body.decode())
    assert form == {"query": ['test_exemplar_metric_total{job="prometheus"}'],
                    "start": ["1600096900.000"], "end": ["1600097000.250"]}


@pytest.mark.parametrize(("reply", "error", "text"), [
    (Reply(body=b'{"status":"success","data":{"resultType":"vector"}}'), BadResponseError,
     "not a list"),
    (Reply(body=b'{"status":"success","data":[{"exemplars":[]}]}'), BadResponseError,
     "label map"),
    (Reply(body=b'{"status":"success","data":[{"seriesLabels":{},"exemplars":[{"labels":{},'
                b'"timestamp":1}]}]}'), BadResponseError, "malformed exemplars"),
    (Reply(body=b'{"status":"success","data":[{"seriesLabels":{},"exemplars":[{"labels":{},'
                b'"value":"x","timestamp":1}]}]}'), BadResponseError, "malformed exemplars"),
    (Reply(body=b'{"status":"success","data":[{"seriesLabels":{},"exemplars":[{"labels":{},'
                b'"value":"1","timestamp":null}]}]}'), BadResponseError, "malformed exemplars"),
    (Reply(body=b'{"status":"success","data":["oops"]}'), BadResponseError, "malformed"),
    (Reply(body=b'{"status":"success","data":[{"seriesLabels":{}'), BadResponseError,
     "truncated JSON"),
    (Reply(400, b'{"status":"error","errorType":"bad_data","error":"1:5: parse error: '
                b'unclosed left parenthesis"}'), QueryError, "unclosed left parenthesis"),
    (Reply(422, b'{"status":"error","errorType":"execution","error":"exemplar storage '
                b'\\u001b[31mbroken"}'), QueryError, "exemplar storage"),
    (Reply(502, b"<html>bad gateway</html>", "text/html"), HTTPStatusError, "502"),
    (Reply(200, b"<html>login</html>", "text/html"), BadResponseError, "expected JSON"),
])
async def test_the_client_turns_garbage_and_errors_into_typed_errors(
        server: FakeHTTPServer, reply: Reply, error: type[Exception], text: str) -> None:
    server.reply["now"] = reply  # type: ignore[attr-defined]
    prom = prometheus_client_for(server.url)
    with pytest.raises(error, match=text) as caught:
        await prom.query_exemplars("m", 0, 1)
    await prom.aclose()
    assert "\x1b" not in str(caught.value)
    assert getattr(caught.value, "source", "prom") == "prom"


@pytest.mark.parametrize("reply", [
    Reply(204, b"", "text/plain"),  # what Prometheus answers a query without selectors
    Reply(body=b'{"status":"success","data":null}'),
    Reply(body=b'{"status":"success","data":[]}'),
    Reply(body=b'{"status":"success","data":[{"seriesLabels":{"a":"b"},"exemplars":null}]}'),
])
async def test_nothing_found_is_an_empty_list(server: FakeHTTPServer, reply: Reply) -> None:
    server.reply["now"] = reply  # type: ignore[attr-defined]
    prom = prometheus_client_for(server.url)
    assert await prom.query_exemplars("m", 0, 1) == []
    await prom.aclose()


# --------------------------------------------------------------------- the model


@pytest.mark.parametrize(("text", "width", "expected"), [
    ("4BF92F3577B34DA6A3CE929D0E0E4736", 32, "4bf92f3577b34da6a3ce929d0e0e4736"),
    (" 0x00F067AA0BA902B7 ", 16, "00f067aa0ba902b7"),
    ("a3ce929d0e0e4736", 32, "0000000000000000a3ce929d0e0e4736"),
    ("S/kvNXezTaajzpKdDg5HNg==", 32, "4bf92f3577b34da6a3ce929d0e0e4736"),  # base64 (Tempo)
    ("S_kvNXezTaajzpKdDg5HNg", 32, "4bf92f3577b34da6a3ce929d0e0e4736"),  # URL-safe, bare
    ("APBnqgupArc=", 16, "00f067aa0ba902b7"),
    ("EpTxMJ40fUus7aGY", 32, None),  # 12 bytes: not an id
    ("0" * 32, 32, None),  # W3C: all zeros is invalid
    ("4bf92f3577b34da6a3ce929d0e0e47361", 32, None),  # 33 digits
    ("", 32, None),
    ("not an id at all", 32, None),
    ("\x1b[31m", 32, None),
])
def test_ids_are_normalised(text: str, width: int, expected: str | None) -> None:
    assert normalise_id(text, width) == expected


@pytest.mark.parametrize("name", ["trace_id", "traceID", "trace.id", "TraceId"])
def test_the_trace_id_label_has_several_names(name: str) -> None:
    exemplar = Exemplar.from_labels({"__name__": "m"}, {name: "ABC", "span.id": "1f"}, 1.0, 2.0)
    assert exemplar.trace_id == "0" * 29 + "abc" and exemplar.span_id == "0" * 14 + "1f"
    custom = Exemplar.from_labels({}, {"request": "ff", "trace_id": "1"}, 1.0, 2.0,
                                  trace_labels=("request",))
    assert custom.trace_id == "0" * 30 + "ff"
    assert exemplar.series_name == "m"
