"""The embedded engine answers like Debian's Prometheus 2.42 on the same data.

Generated OpenMetrics data (tests/support/openmetrics_data.py) is backfilled into a real
Prometheus with promtool and loaded into the engine's Storage; every query below is asked
of both as instant queries at many times (data start and end, inside gaps, on the
lookback boundary) and as range queries, and the answers must agree: same result type,
series and labels, timestamps, values within 1e-9 relative, errors of the same type.
"""

from __future__ import annotations

import pytest

from tests.support.backfill import BackfilledPrometheus, backfill
from tests.support.conformance import PerSeriesGroups, compare_envelopes, envelope_from_engine
from tests.support.openmetrics_data import generate
from watchdeck.core.engine.load import load_text
from watchdeck.core.engine.promql import Evaluator, UnsupportedError, parse, to_api_data
from watchdeck.core.engine.storage import Storage

pytestmark = pytest.mark.prometheus

H = "request_duration_seconds_bucket"

QUERIES = [
    # selectors and matchers
    "http_requests_total",
    'http_requests_total{job="api"}',
    'http_requests_total{code!="200"}',
    'http_requests_total{instance=~"i.*"}',
    'http_requests_total{instance!~"i1|w.*"}',
    'http_requests_total{job=~"API"}',
    'http_requests_total{job=~"(?i)API"}',
    '{__name__=~"cpu_seconds_.*"}',
    '{__name__=~"http_.*", method="POST"}',
    'temperature_celsius{sensor=~"s[12]", room!=""}',
    "queue_length offset 10m",
    "queue_length offset -5m",
    "weird_gauge",
    "http_requests_total[5m]",
    'queue_length{instance="w1"}[2m] offset 1m',
    # literals
    "42", "-2.5e-3", "0x1F", "Inf", "-Inf", "NaN", ".5", '"a string"',
    # range-vector functions
    "rate(http_requests_total[5m])",
    "rate(http_requests_total[1m])",
    "rate(http_requests_total[20s])",
    "rate(http_requests_total[5m] offset 30m)",
    "rate(http_requests_total[5m] offset -2m)",
    "irate(http_requests_total[5m])",
    "increase(http_requests_total[10m])",
    "increase(request_duration_seconds_count[1h])",
    "delta(queue_length[5m])",
    "delta(temperature_celsius[90s])",
    "idelta(temperature_celsius[2m])",
    "resets(http_requests_total[30m])",
    "changes(queue_length[10m])",
    "changes(weird_gauge[5m])",
    "avg_over_time(temperature_celsius[10m])",
    "min_over_time(queue_length[7m])",
    "max_over_time(queue_length[7m])",
    "sum_over_time(queue_length[5m])",
    "count_over_time(http_requests_total[3m])",
    "last_over_time(queue_length[10m])",
    "quantile_over_time(0.9, temperature_celsius[15m])",
    "quantile_over_time(0.25, queue_length[4m])",
    "max_over_time(weird_gauge[5m])",
    "min_over_time(weird_gauge[5m])",
    "avg_over_time(weird_gauge[5m])",
    "sum_over_time(weird_gauge[2m])",
    "quantile_over_time(0.5, weird_gauge[5m])",
    'rate({__name__=~"cpu_seconds_.*"}[5m])',
    # aggregations
    "sum(rate(http_requests_total[5m]))",
    "sum by (job) (rate(http_requests_total[5m]))",
    "sum(rate(http_requests_total[5m])) without (instance, method)",
    "avg by (job) (queue_length)",
    "min(temperature_celsius)",
    "max by (room) (temperature_celsius)",
    "count by (code) (http_requests_total)",
    "count(http_requests_total) by (job) > 1",
    "topk(2, rate(http_requests_total[5m]))",
    "bottomk(1, temperature_celsius) by (room)",
    "topk by (job) (1, queue_length)",
    "quantile(0.75, temperature_celsius)",
    "quantile by (job) (0.5, queue_length)",
    "sum(weird_gauge)",
    "max(weird_gauge)",
    "avg(weird_gauge)",
    'sum by (__name__) ({__name__=~"cpu_seconds_.*"})',
    # histogram_quantile
    f"histogram_quantile(0.9, rate({H}[5m]))",
    f"histogram_quantile(0.99, sum by (le, job) (rate({H}[5m])))",
    f'histogram_quantile(0.5, {H}{{handler="/broken"}})',
    f"histogram_quantile(0, rate({H}[10m]))",
    f"histogram_quantile(1, rate({H}[10m]))",
    f"histogram_quantile(1.5, rate({H}[10m]))",
    f"histogram_quantile(-1, rate({H}[10m]))",
    f'histogram_quantile(scalar(queue_length{{instance="i1"}}) / 30, rate({H}[5m]))',
    # binary operators and vector matching
    "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
    "http_requests_total / ignoring(code) group_left sum without (code) (http_requests_total)",
    "sum without (code) (http_requests_total) / ignoring(code) group_right http_requests_total",
    "http_requests_total * on(job) group_left(version) service_info",
    "queue_length > 10",
    "queue_length > bool 10",
    "10 < queue_length",
    "queue_length == 12",
    "queue_length != bool 12",
    "queue_length >= on(instance, job) queue_length offset 5m",
    "queue_length <= bool 5",
    "2 * queue_length + 1",
    "-queue_length",
    "+queue_length",
    "queue_length % 4",
    "queue_length ^ 2",
    "2 ^ 3 ^ 2",
    "-2 ^ 2",
    "(1 + 2) * 3 - 4 / 2",
    "10 / 0", "0 / 0", "-1 % 0", "5 % -3",
    "queue_length / 0",
    "1 > bool 2",
    "time() - 1700000000",
    "temperature_celsius - temperature_celsius offset 10m",
    "weird_gauge * 2",
    "weird_gauge > 0",
    'http_requests_total and http_requests_total{code="200"}',
    'http_requests_total{job="api"} or queue_length',
    "http_requests_total unless on(instance) queue_length",
    'queue_length and on(job) http_requests_total{code="500"}',
    "http_requests_total + on(job) http_requests_total",
    "http_requests_total + ignoring(code) http_requests_total",
    '{__name__=~"cpu_seconds_.*"} * 2',
    '{__name__=~"cpu_seconds_.*"} > 0',
    # instant-vector functions
    "abs(temperature_celsius)",
    "ceil(temperature_celsius)",
    "floor(temperature_celsius)",
    "round(temperature_celsius)",
    "round(temperature_celsius, 0.5)",
    "round(temperature_celsius, 5)",
    "clamp_min(temperature_celsius, 0)",
    "clamp_max(queue_length, 10)",
    "clamp_max(weird_gauge, 50)",
    "abs(weird_gauge)",
    'scalar(queue_length{instance="i1"})',
    "scalar(queue_length)",
    "vector(1)",
    "vector(time())",
    "time()",
    "timestamp(queue_length)",
    'timestamp(http_requests_total{instance="w1"})',
    "timestamp(rate(http_requests_total[5m]))",
    'label_replace(http_requests_total, "inst", "$1-x", "instance", "(.)(.*)")',
    'label_replace(queue_length, "job", "", "job", ".*")',
    'label_replace(queue_length, "foo", "${1}bar$2", "instance", "i(.*)")',
    'label_replace(queue_length, "instance", "same", "instance", ".*")',
    "absent(nope)",
    # errors, which must be worded as Prometheus words them
    "http_requests_total + ignoring(code) sum without (code) (http_requests_total)",
    '{__name__=~"cpu_seconds_.*"} + on(cpu) group_left cpu_seconds_a',
    "sum without (code) (http_requests_total) + on(job) group_right http_requests_total",
    "topk(NaN, queue_length)",
    "bottomk(1e20, queue_length)",
    'label_replace(queue_length, "x", "a", "instance", "(")',
    'label_replace(queue_length, "1x", "a", "instance", ".*")',
    "rate(queue_length)",
    "sum by (le (x)",
    'queue_length{job=~"(?=a)"}',
    'absent(nope{job="x", env=~"b", a="1", a="2"})',
    "absent(queue_length)",
    'absent(http_requests_total{instance="i2"})',
]

UNSUPPORTED = [
    "stddev(queue_length)",
    "count_values(\"v\", queue_length)",
    "group(queue_length)",
    "holt_winters(queue_length[10m], 0.5, 0.5)",
    "sort(queue_length)",
    "label_join(queue_length, \"a\", \",\", \"job\")",
    "rate(http_requests_total[5m:1m])",
    "max_over_time(rate(http_requests_total[1m])[10m:])",
    "queue_length @ 1700000000",
    "queue_length atan2 queue_length",
    "deriv(queue_length[5m])",
    "clamp(queue_length, 0, 5)",
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    dataset = generate()
    workdir = tmp_path_factory.mktemp("conformance")
    data = backfill(dataset.text, workdir)
    storage = Storage(retention_ms=100 * 365 * 86_400_000)
    stats = load_text(dataset.text, storage)
    assert stats.samples == dataset.samples and stats.refused == 0
    with BackfilledPrometheus(workdir, data) as prometheus:
        # The second engine reads through select_grouped with no timestamps shared.
        yield dataset, prometheus, (Evaluator(storage), Evaluator(PerSeriesGroups(storage)))


def _instant_times(dataset) -> list[int]:
    start, end = dataset.start_ms, dataset.end_ms
    gap_start, _ = dataset.gap_ms
    before_gap = gap_start - 15_000  # the last sample of the gappy series
    return [
        start, start + 7_500, start + 299_999, start + 300_000, start + 1_021_123,
        gap_start + 120_000, before_gap + 300_000, before_gap + 300_001, gap_start + 600_000,
        dataset.notes["w2_start"] - 1, dataset.notes["w2_start"] + 30_000,
        dataset.notes["short_gap_start"] + 90_000, start + 3_600_000 + 4_321,
        end - 1, end, end + 120_000, end + 300_000, end + 360_000,
    ]


def _ranges(dataset) -> list[tuple[int, int, int]]:
    start, end = dataset.start_ms, dataset.end_ms
    gap_start, gap_end = dataset.gap_ms
    return [
        (start - 600_000, end + 600_000, 60_000),
        (start + 1_021_123, start + 3_600_500, 37_000),
        (gap_start - 300_000, gap_end + 300_000, 15_000),
    ]


@pytest.mark.parametrize("query", QUERIES)
def test_same_answers_as_prometheus(setup, query):
    dataset, prometheus, engines = setup
    problems = []
    for t in _instant_times(dataset):
        expected = prometheus.query(query, t)
        for name, engine in zip(("select", "grouped"), engines):
            actual = envelope_from_engine(lambda t=t, e=engine: to_api_data(e.instant(query, t)),
                                          "query")
            problems += [f"instant @{t} ({name}): {p}" for p in compare_envelopes(expected, actual)]
    for start, end, step in _ranges(dataset):
        expected = prometheus.query_range(query, start, end, step)
        for name, engine in zip(("select", "grouped"), engines):
            actual = envelope_from_engine(
                lambda s=start, e=end, st=step, ev=engine: to_api_data(ev.range(query, s, e, st)))
            problems += [f"range {start}..{end}/{step} ({name}): {p}"
                         for p in compare_envelopes(expected, actual, ordered=True)]
    assert not problems, "\n".join(problems[:20])


def test_the_queries_cover_the_subset():
    from watchdeck.core.engine.promql.subset import SUPPORTED_AGGREGATIONS, SUPPORTED_FUNCTIONS

    text = " ".join(QUERIES)
    assert len(QUERIES) >= 60
    for name in SUPPORTED_FUNCTIONS:
        assert f"{name}(" in text, name
    for op in SUPPORTED_AGGREGATIONS:
        assert f"{op.lower()}(" in text or f"{op.lower()} by" in text, op
    for token in ("offset -", " offset ", "=~", "!~", "!=", "__name__", "group_left",
                  "group_right", "ignoring", "on(", " and ", " or ", " unless ", " bool ",
                  " without ", " % ", " ^ ", "[5m]"):
        assert token in text, token


@pytest.mark.parametrize("query", UNSUPPORTED)
def test_outside_the_subset_is_refused(setup, query):
    dataset, prometheus, _ = setup
    # Valid PromQL (the real Prometheus answers it) that the engine refuses by name.
    assert prometheus.query(query, dataset.start_ms + 3_600_000)["status"] == "success"
    with pytest.raises(UnsupportedError) as caught:
        parse(query)
    assert caught.value.error_type == "bad_data"
    assert str(caught.value).startswith("not supported by the embedded engine: ")


@pytest.fixture(scope="module")
def engine_over_http(setup, tmp_path_factory):
    """The same data through ``watchdeck engine --load`` and its HTTP API."""
    import subprocess
    import sys

    from tests.support.net import LOOPBACK, free_port, wait_http

    dataset, _, _ = setup
    data = tmp_path_factory.mktemp("engine-http") / "data.om"
    data.write_text(dataset.text)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "watchdeck", "engine", "--listen", f"{LOOPBACK}:{port}",
         "--load", str(data), "--retention", "36500d"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_http(f"http://{LOOPBACK}:{port}/-/ready", timeout=120)
        yield f"http://{LOOPBACK}:{port}"
    finally:
        process.terminate()
        process.wait(timeout=20)


def _http(base: str, path: str, params: dict[str, str]) -> dict:
    import json
    import urllib.error
    import urllib.parse
    import urllib.request

    url = f"{base}/api/v1/{path}?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - loopback
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read())


def test_same_answers_through_watchdeck_engine_over_http(setup, engine_over_http):
    """Every conformance query through the HTTP API, at four times and one range."""
    dataset, prometheus, _ = setup
    problems = []
    times = _instant_times(dataset)[::5]
    start, end, step = _ranges(dataset)[1]
    for query in QUERIES:
        for t in times:
            expected = prometheus.query(query, t)
            actual = _http(engine_over_http, "query", {"query": query, "time": f"{t / 1000}"})
            problems += [f"{query} @{t}: {p}" for p in compare_envelopes(expected, actual)]
        expected = prometheus.query_range(query, start, end, step)
        actual = _http(engine_over_http, "query_range",
                       {"query": query, "start": f"{start / 1000}", "end": f"{end / 1000}",
                        "step": f"{step / 1000}"})
        problems += [f"{query} range: {p}"
                     for p in compare_envelopes(expected, actual, ordered=True)]
    assert not problems, "\n".join(problems[:20])
