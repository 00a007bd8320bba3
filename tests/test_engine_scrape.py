"""The engine's scraper against real HTTP targets on loopback, good and bad."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator

import pytest

from tests.support.fake_http import FakeHTTPServer, Reply
from watchdeck.core.engine.matchers import Matcher
from watchdeck.core.engine.scrape import Scraper, Target
from watchdeck.core.engine.storage import Storage, is_stale, label_key

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

GOOD = b"""# HELP requests_total Requests.
# TYPE requests_total counter
requests_total{code="200"} 10
requests_total{code="500"} 2
# TYPE temperature gauge
temperature{job="inner",instance="x"} 21.5
weird{kind="nan"} NaN
weird{kind="pinf"} +Inf
weird{kind="ninf"} -Inf
"""


@pytest.fixture
def target() -> Iterator[FakeHTTPServer]:
    state = {"reply": Reply(body=GOOD, content_type=TEXT), "delay": 0.0}

    def respond(method: str, path: str, body: bytes) -> Reply:
        time.sleep(state["delay"])  # type: ignore[arg-type]
        return state["reply"]  # type: ignore[return-value]

    server = FakeHTTPServer(respond)
    server.state = state  # type: ignore[attr-defined]
    yield server
    server.stop()


def values(storage: Storage, name: str, **labels: str) -> list[float]:
    matchers = [Matcher("__name__", "=", name)] + [Matcher(k, "=", v) for k, v in labels.items()]
    found = storage.select(matchers, 0, 2**62)
    return [v for s in found for v in s.values]


def up(storage: Storage) -> list[float]:
    return values(storage, "up")


async def scrape_once(scraper: Scraper) -> None:
    await scraper.scrape_all()


async def test_a_good_target(target: FakeHTTPServer) -> None:
    storage = Storage()
    scraper = Scraper(storage, [Target(f"{target.url}/metrics", job="app")], interval=1)
    await scrape_once(scraper)
    await scraper.aclose()
    assert up(storage) == [1.0]
    assert values(storage, "requests_total", code="200") == [10.0]
    # Target labels win; the target's own job/instance are kept as exported_*.
    (temp,) = storage.select([Matcher("__name__", "=", "temperature")], 0, 2**62)
    assert temp.labels["job"] == "app" and temp.labels["exported_job"] == "inner"
    assert temp.labels["instance"] == target.url.split("//")[1]
    assert temp.labels["exported_instance"] == "x"
    nan, = values(storage, "weird", kind="nan")
    assert math.isnan(nan) and not is_stale(nan)
    assert values(storage, "weird", kind="pinf") == [math.inf]
    assert values(storage, "weird", kind="ninf") == [-math.inf]
    assert values(storage, "scrape_samples_scraped") == [6.0]
    assert scraper.health[f"{target.url}/metrics"].health == "up"


async def test_openmetrics_exemplars_are_kept(target: FakeHTTPServer) -> None:
    target.state["reply"] = Reply(body=b"""# TYPE latency histogram
latency_bucket{le="0.5"} 3 # {trace_id="4bf92f3577b34da6a3ce929d0e0e4736"} 0.42 1700000000.5
latency_bucket{le="+Inf"} 4
latency_count 4
latency_sum 1.5
# EOF
""", content_type=OPENMETRICS)  # type: ignore[attr-defined]
    storage = Storage()
    scraper = Scraper(storage, [Target(f"{target.url}/metrics")], interval=1)
    await scrape_once(scraper)
    await scraper.aclose()
    assert up(storage) == [1.0]
    (bucket,) = storage.select([Matcher("le", "=", "0.5")], 0, 2**62)
    (exemplar,) = scraper.exemplars.by_series[label_key(bucket.labels)]
    assert exemplar.labels == {"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}
    assert exemplar.value == 0.42 and exemplar.timestamp == 1700000000.5


@pytest.mark.parametrize(("reply", "delay", "reason"), [
    (Reply(500, b"oops", "text/plain"), 0.0, "HTTP status 500"),
    (Reply(200, b"this is { not a metric\n", TEXT), 0.0, "cannot parse"),
    (Reply(200, b"m 1\n", TEXT), 3.0, "timeout"),
    (Reply(200, b"# TYPE m gauge\n" + b"m{i=\"x\"} 1\n" * 3_000_000, TEXT), 0.0, "max_body_bytes"),
])
async def test_a_bad_target_is_down_with_the_reason(target: FakeHTTPServer, reply: Reply,
                                                    delay: float, reason: str) -> None:
    storage = Storage()
    scraper = Scraper(storage, [Target(f"{target.url}/metrics")], interval=1, timeout=1.0)
    await scrape_once(scraper)  # good first
    target.state.update(reply=reply, delay=delay)  # type: ignore[attr-defined]
    await scrape_once(scraper)
    await scraper.aclose()
    assert up(storage) == [1.0, 0.0]
    health = scraper.health[f"{target.url}/metrics"]
    assert health.health == "down" and reason in health.last_error
    # Every series of the failed target got a staleness marker.
    last = [s.values[-1] for s in storage.select([Matcher("__name__", "=", "requests_total")],
                                                 0, 2**62)]
    assert last and all(is_stale(v) for v in last)


async def test_duplicate_series_in_one_answer_keep_the_first(target: FakeHTTPServer) -> None:
    target.state["reply"] = Reply(body=b"m{a=\"1\"} 1\nm{a=\"1\"} 2\n", content_type=TEXT)  # type: ignore[attr-defined]
    storage = Storage()
    scraper = Scraper(storage, [Target(f"{target.url}/metrics")], interval=1)
    await scrape_once(scraper)
    await scraper.aclose()
    assert values(storage, "m") == [1.0]


async def test_a_series_that_vanishes_is_marked_stale(target: FakeHTTPServer) -> None:
    storage = Storage()
    scraper = Scraper(storage, [Target(f"{target.url}/metrics")], interval=1)
    await scrape_once(scraper)
    target.state["reply"] = Reply(body=b"requests_total{code=\"200\"} 11\n", content_type=TEXT)  # type: ignore[attr-defined]
    time.sleep(0.01)
    await scrape_once(scraper)
    await scraper.aclose()
    assert values(storage, "requests_total", code="200") == [10.0, 11.0]
    gone = values(storage, "requests_total", code="500")
    assert gone[0] == 2.0 and is_stale(gone[1])


async def test_an_unreachable_target_and_a_bounded_store() -> None:
    from tests.support.net import free_port

    storage = Storage(max_series=3)
    scraper = Scraper(storage, [Target(f"http://127.0.0.1:{free_port()}/metrics")], interval=1)
    await scrape_once(scraper)
    await scraper.aclose()
    health = next(iter(scraper.health.values()))
    assert health.health == "down" and "connection refused" in health.last_error
    assert up(storage) == [0.0]
    for i in range(10):
        storage.append({"__name__": "x", "i": str(i)}, 1000, 1.0)
    assert storage.series_count == 3 and storage.refused_series > 0
