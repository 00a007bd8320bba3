"""``watchdeck engine``'s HTTP API, read by watchdeck's own Prometheus client (as a second
watchdeck would) and by plain HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.net import LOOPBACK, free_port, wait_http
from watchdeck.core.config.models import PrometheusSourceConfig
from watchdeck.core.config.types import convert
from watchdeck.core.engine.runtime import EmbeddedEngine
from watchdeck.core.engine.server import serve
from watchdeck.core.errors import QueryError
from watchdeck.core.sources.prometheus import PrometheusSource

NOW = 1_767_225_600.0


def fill(engine: EmbeddedEngine) -> None:
    for step in range(121):  # 30 minutes at 15 s
        t = int((NOW - 1800 + 15 * step) * 1000)
        for code, rate in (("200", 10.0), ("500", 1.0)):
            engine.storage.append({"__name__": "http_requests_total", "code": code,
                                   "job": "api", "instance": "a:1"}, t, rate * 15 * step)
        engine.storage.append({"__name__": "queue_length", "job": "api",
                               "http.route": "/v1"}, t, float(step % 7))


@pytest.fixture
async def served() -> AsyncIterator[tuple[EmbeddedEngine, str]]:
    engine = EmbeddedEngine(clock=lambda: NOW)
    fill(engine)
    port = free_port()
    runner = await serve(engine, LOOPBACK, port)
    yield engine, f"http://{LOOPBACK}:{port}"
    await runner.cleanup()
    await engine.stop()


def client(url: str) -> PrometheusSource:
    return PrometheusSource("engine", convert(PrometheusSourceConfig,
                                              {"type": "prometheus", "url": url}), Path.cwd())


async def test_queries_through_watchdecks_own_client(served: tuple[EmbeddedEngine, str]
                                                     ) -> None:
    _, url = served
    prom = client(url)
    vector = await prom.query('sum by (code) (rate(http_requests_total[5m]))', NOW)
    assert vector.result_type == "vector"
    assert {s.labels["code"]: round(s.values[0], 9) for s in vector.series} == {
        "200": 10.0, "500": 1.0}
    matrix = await prom.query_range("queue_length", NOW - 300, NOW, 60)
    assert matrix.result_type == "matrix" and len(matrix.series[0].values) == 6
    assert await prom.label_names() == ["__name__", "code", "http.route", "instance", "job"]
    assert await prom.label_values("code") == ["200", "500"]
    assert await prom.label_values("http.route") == ["/v1"]  # a UTF-8 label name, escaped
    series = await prom.series(['http_requests_total{code="500"}'])
    assert series == [{"__name__": "http_requests_total", "code": "500", "job": "api",
                       "instance": "a:1"}]
    assert (await prom.buildinfo())["branch"] == "watchdeck-engine"
    with pytest.raises(QueryError) as caught:
        await prom.query("sum(rate(http_requests_total[5m])")
    assert caught.value.error_type == "bad_data" and caught.value.status == 400
    with pytest.raises(QueryError, match="11,000 points"):
        await prom.query_range("queue_length", NOW - 100000, NOW, 1)
    with pytest.raises(QueryError, match="not supported by the embedded engine"):
        await prom.query("predict_linear(queue_length[5m], 60)")
    await prom.aclose()


def get(url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_plain_http_get_and_errors(served: tuple[EmbeddedEngine, str]) -> None:
    import asyncio

    _, url = served
    query = urllib.parse.urlencode({"query": "queue_length", "time": f"{NOW}"})
    status, body = await asyncio.to_thread(get, f"{url}/api/v1/query?{query}")
    assert status == 200 and body["status"] == "success"
    (sample,) = body["data"]["result"]
    assert sample["value"] == [NOW, str(float(120 % 7)).rstrip("0").rstrip(".")]
    status, body = await asyncio.to_thread(get, f"{url}/api/v1/query")
    assert status == 400 and body == {"status": "error", "errorType": "bad_data",
                                      "error": 'invalid parameter "query": missing'}
    status, body = await asyncio.to_thread(get, f"{url}/api/v1/series")
    assert status == 400 and "match[]" in body["error"]
    status, body = await asyncio.to_thread(
        get, f"{url}/api/v1/query_range?query=up&start=10&end=5&step=1")
    assert status == 400
    assert body["error"] == 'invalid parameter "end": end timestamp must not be before start time'
    status, body = await asyncio.to_thread(get, f"{url}/api/v1/alerts")
    assert status == 200 and body["data"] == {"alerts": []}


def test_the_command_serves_a_loaded_file_and_rules(tmp_path: Path) -> None:
    data = tmp_path / "data.om"
    lines = ["# TYPE temp gauge"]
    for step in range(20):
        lines.append(f'temp{{room="a"}} {20 + step} {NOW - 300 + 15 * step}')
    data.write_text("\n".join(lines) + "\n# EOF\n")
    rules = tmp_path / "rules.yaml"
    rules.write_text("""groups:
  - name: rooms
    rules:
      - alert: Hot
        expr: temp > 30
        labels: {severity: warning}
        annotations: {summary: "room {{ $labels.room }} is {{ $value }} degrees"}
""")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "watchdeck", "engine", "--listen", f"{LOOPBACK}:{port}",
         "--load", str(data), "--rules", str(rules), "--interval", "1s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_http(f"http://{LOOPBACK}:{port}/-/ready", 20)
        query = urllib.parse.urlencode({"query": 'temp{room="a"}', "time": f"{NOW - 20}"})
        status, body = get(f"http://{LOOPBACK}:{port}/api/v1/query?{query}")
        assert status == 200
        assert body["data"]["result"][0]["value"][1] == "38"
        time.sleep(0.5)
    finally:
        process.terminate()
        out, err = process.communicate(timeout=10)
    assert process.returncode == 0, err
    assert "loaded 20 samples" in out
