"""Deterministic OpenMetrics test data with timestamps, for the engine conformance suite.

The same text is backfilled into a real Prometheus (``promtool tsdb create-blocks-from
openmetrics``) and loaded into the embedded engine, and the answers are compared. It
holds what makes PromQL hard to get right:

* counters with resets, one that starts at zero (the extrapolation's zero clamp), one
  that appears half-way, a gap longer than the 5-minute lookback and one shorter;
* classic histograms (``le`` buckets up to ``+Inf``, ``_sum``, ``_count``), one with a
  reset of all its buckets and one with non-monotonic buckets;
* gauges with negative values, NaN and ±Inf, several label sets;
* series that differ only by metric name (so dropping it makes them collide);
* two scrape schedules: one on exact 15 s multiples, one offset by 7.5 s with jitter.

Timestamps are written in seconds with millisecond precision, as promtool wants.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

START_S = 1_700_000_000  # 2023-11-14T22:13:20Z
STEP_MS = 15_000
DURATION_MS = 2 * 3600 * 1000
BUCKETS = ("0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1.0", "2.5", "5.0",
           "10.0", "+Inf")


@dataclass
class Dataset:
    """The file's text and facts the tests need about it (all times in ms)."""

    text: str
    start_ms: int
    end_ms: int
    gap_ms: tuple[int, int]  # the long gap of http_requests_total{instance="i2"}
    series: int = 0
    samples: int = 0
    notes: dict[str, int] = field(default_factory=dict)


def _fmt(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "+Inf" if value > 0 else "-Inf"
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def _ts(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return "{" + body + "}"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.series: set[str] = set()
        self.samples = 0

    def family(self, name: str, kind: str, help_text: str) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, labels: dict[str, str], ms: int, value: float) -> None:
        series = name + _labels(labels)
        self.series.add(series)
        self.samples += 1
        self.lines.append(f"{series} {_fmt(value)} {_ts(ms)}")


def _schedule(start: int, end: int, offset: int, rng: random.Random, jitter: int) -> list[int]:
    times = []
    t = start + offset
    while t <= end:
        times.append(t + (rng.randint(-jitter, jitter) if jitter else 0))
        t += STEP_MS
    return times


def generate(seed: int = 42, hours: float = 2.0) -> Dataset:
    rng = random.Random(seed)
    start = START_S * 1000
    end = start + int(hours * 3600 * 1000)
    exact = _schedule(start, end, 0, rng, 0)
    jittered = _schedule(start, end, 7500, rng, 400)
    writer = _Writer()
    gap = (start + 40 * 60_000, start + 55 * 60_000)
    short_gap = (start + 80 * 60_000, start + 83 * 60_000)

    # -- counters ------------------------------------------------------------------
    writer.family("http_requests", "counter", "Requests handled.")
    counters = [
        ({"job": "api", "instance": "i1", "method": "GET", "code": "200"}, exact, 1000.0, 5.0),
        ({"job": "api", "instance": "i1", "method": "GET", "code": "500"}, exact, 3.0, 0.2),
        ({"job": "api", "instance": "i2", "method": "POST", "code": "200"}, exact, 0.0, 2.0),
        ({"job": "web", "instance": "w1", "method": "GET", "code": "200"}, jittered, 50.0, 8.0),
        ({"job": "web", "instance": "w1", "method": "POST", "code": "500"}, jittered, 0.0, 0.05),
        ({"job": "web", "instance": "w2", "method": "GET", "code": "200"}, jittered, 10.0, 3.0),
    ]
    for index, (labels, times, value, speed) in enumerate(counters):
        for t in times:
            if labels["instance"] == "i2" and gap[0] <= t < gap[1]:
                continue
            if labels["instance"] == "w2" and t < start + 60 * 60_000:
                continue  # appears half-way, starting low
            if labels["instance"] == "w1" and labels["method"] == "GET" and \
                    short_gap[0] <= t < short_gap[1]:
                continue
            if index in (0, 3) and rng.random() < 0.01:
                value = rng.choice([0.0, rng.uniform(0, 5)])  # process restart
            value += max(0.0, rng.gauss(speed, speed / 2)) * (1 if rng.random() > 0.1 else 0)
            value = round(value, 3)
            writer.sample("http_requests_total", labels, t, value)

    # -- histograms ------------------------------------------------------------------
    writer.family("request_duration_seconds", "histogram", "Request latency.")
    handlers = [("/a", exact, 0.08, None), ("/b", exact, 0.4, start + 60 * 60_000),
                ("/c", jittered, 1.5, None), ("/broken", exact, 0.2, None)]
    bounds = [float(b) for b in BUCKETS[:-1]]
    for handler, times, median, reset_at in handlers:
        counts = [0.0] * len(BUCKETS)
        total = 0.0
        for t in times:
            if reset_at is not None and reset_at <= t < reset_at + STEP_MS:
                counts = [0.0] * len(BUCKETS)
                total = 0.0
            for _ in range(rng.randint(0, 12)):
                observed = rng.lognormvariate(math.log(median), 0.9)
                total += observed
                for i, bound in enumerate(bounds):
                    if observed <= bound:
                        counts[i] += 1
                counts[-1] += 1
            shown = list(counts)
            if handler == "/broken" and rng.random() < 0.3:
                i = rng.randint(0, len(shown) - 3)
                shown[i] = shown[i + 1] + rng.randint(1, 4)  # a bucket above the next one
            labels = {"job": "api", "handler": handler}
            for le, count in zip(BUCKETS, shown):
                writer.sample("request_duration_seconds_bucket", {**labels, "le": le}, t, count)
            writer.sample("request_duration_seconds_sum", labels, t, round(total, 6))
            writer.sample("request_duration_seconds_count", labels, t, counts[-1])

    # -- gauges ------------------------------------------------------------------------
    writer.family("queue_length", "gauge", "Items waiting.")
    for instance, times in (("i1", exact), ("i2", exact), ("w1", jittered)):
        level = 10.0
        for t in times:
            if instance == "i2" and gap[0] <= t < gap[1]:
                continue
            level = max(0.0, level + rng.randint(-3, 3))
            writer.sample("queue_length", {"job": "api" if instance[0] == "i" else "web",
                                           "instance": instance}, t, level)
    writer.family("temperature_celsius", "gauge", "Sensor readings.")
    for sensor in ("s1", "s2", "s3"):
        value = rng.uniform(-5, 30)
        for t in exact:
            value += rng.gauss(0, 0.7)
            writer.sample("temperature_celsius", {"sensor": sensor, "room": "lab"}, t,
                          round(value, 4))
    writer.family("weird_gauge", "gauge", "Special values.")
    for t in exact:
        roll = rng.random()
        value = (math.nan if roll < 0.08 else math.inf if roll < 0.12 else -math.inf
                 if roll < 0.15 else round(rng.uniform(-100, 100), 2))
        writer.sample("weird_gauge", {"kind": "special"}, t, value)
    for name in ("cpu_seconds_a", "cpu_seconds_b"):
        writer.family(name, "gauge", "Twins that differ only by name.")
        value = 100.0
        for t in exact:
            value += rng.uniform(0, 2)
            writer.sample(name, {"cpu": "0"}, t, round(value, 3))
    writer.family("service_info", "gauge", "Version of each job.")
    for job, version in (("api", "1.2.0"), ("web", "2.0.1")):
        for t in exact:
            writer.sample("service_info", {"job": job, "version": version, "team": "core"}, t, 1)

    writer.lines.append("# EOF")
    return Dataset("\n".join(writer.lines) + "\n", start, end, gap,
                   len(writer.series), writer.samples,
                   {"short_gap_start": short_gap[0], "w2_start": start + 60 * 60_000})


def generate_bench(series: int = 200, buckets: int = 12, plain: int = 2000,
                   minutes: int = 65, seed: int = 7) -> str:
    """The benchmark's data: ``x_bucket`` with ``series`` label sets × ``buckets`` (by
    ``model``), and ``y`` counters (``plain`` series, by ``x``), at a 15 s interval, all
    scraped at the same instants, ending at START_S + minutes."""
    rng = random.Random(seed)
    start = START_S * 1000
    times = list(range(start, start + minutes * 60_000 + 1, STEP_MS))
    lines = ["# TYPE x histogram"]
    bounds = [f"{0.01 * 2 ** i:g}" for i in range(buckets - 1)] + ["+Inf"]
    for s in range(series):
        labels = f'model="m{s % 5}",replica="r{s}"'
        counts = [rng.uniform(0, 1000) for _ in bounds]
        counts.sort()
        for t in times:
            step = sorted(rng.uniform(0, 5) for _ in bounds)
            counts = [c + d for c, d in zip(counts, step)]
            for le, count in zip(bounds, counts):
                lines.append(f'x_bucket{{{labels},le="{le}"}} {count:.3f} {_ts(t)}')
    lines.append("# TYPE y gauge")
    for s in range(plain):
        value = rng.uniform(0, 1e4)
        for t in times:
            value += rng.uniform(0, 20)
            lines.append(f'y{{x="x{s % 20}",instance="i{s}"}} {value:.3f} {_ts(t)}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"
