"""An exporter with known values, served by the real prometheus_client.

Counters and histogram buckets grow linearly with wall time, so any ``rate()`` over them
is known exactly, whatever the scrape timing:

* ``wd_requests_total{code="200"}`` grows 100/s, ``{code="500"}`` 5/s.
* ``wd_request_duration_seconds`` gets 100 observations/s: 50 <= 0.1 s, 30 in
  (0.1, 0.25], 15 in (0.25, 0.5], 5 in (0.5, 1]. So p50 = 0.1, p90 = 0.25 + 0.25*10/15,
  p99 = 0.5 + 0.5*4/5 (Prometheus's linear interpolation inside a bucket).
* Gauges: ``wd_queue_length{replica="a"} 7`` and ``{replica="b"} 3``;
  ``wd_gpu_utilization_ratio{gpu="0".."3"}`` 0.25, 0.5, 0.75, 1.0.
* ``wd_untrusted_info{text=...} 1`` carries escape sequences and markup in a label value.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from tests.support.net import LOOPBACK, free_port

REQUEST_RATES = {"200": 100.0, "500": 5.0}
BUCKETS_PER_SECOND = [("0.1", 50.0), ("0.25", 80.0), ("0.5", 95.0), ("1.0", 100.0),
                      ("+Inf", 100.0)]
P50, P90, P99 = 0.1, 0.25 + 0.25 * 10 / 15, 0.5 + 0.5 * 4 / 5
QUEUE = {"a": 7.0, "b": 3.0}
GPU_UTIL = {"0": 0.25, "1": 0.5, "2": 0.75, "3": 1.0}
TICK = 0.2  # seconds; every per-second rate above times TICK is a whole number
UNTRUSTED = "\x1b[31mRED\x1b[0m [bold]boom[/bold] \x1b]52;c;aGk=\x07 \u202eevil"


class KnownValues:
    """A collector whose answers follow from the time since it started."""

    def __init__(self) -> None:
        # Counters look 10 minutes old at the first scrape.
        self.started = math.floor(time.time()) - 600.0

    def collect(self) -> Iterator[Metric]:
        # Counts advance in 0.2 s ticks, so every bucket and counter is an integer (as
        # OpenMetrics requires) and exact; each value carries the time of its tick, so
        # rates stay exact however late a scrape is answered on a busy machine.
        elapsed = math.floor((time.time() - self.started) / TICK) * TICK
        now = self.started + elapsed
        requests = CounterMetricFamily("wd_requests", "Requests served.", labels=["code"])
        for code, rate in REQUEST_RATES.items():
            requests.add_metric([code], round(rate * elapsed), timestamp=now)
        yield requests
        latency = HistogramMetricFamily("wd_request_duration_seconds", "Request latency.",
                                        labels=[])
        latency.add_metric(
            [], [(le, round(per_second * elapsed)) for le, per_second in BUCKETS_PER_SECOND],
            sum_value=round(20.0 * elapsed, 6), timestamp=now,
        )
        yield latency
        queue = GaugeMetricFamily("wd_queue_length", "Queued requests.", labels=["replica"])
        for replica, value in QUEUE.items():
            queue.add_metric([replica], value)
        yield queue
        gpu = GaugeMetricFamily("wd_gpu_utilization_ratio", "GPU busy.", labels=["gpu"])
        for index, value in GPU_UTIL.items():
            gpu.add_metric([index], value)
        yield gpu
        untrusted = GaugeMetricFamily("wd_untrusted_info", "Hostile label.", labels=["text"])
        untrusted.add_metric([UNTRUSTED], 1.0)
        yield untrusted


class Exporter:
    """``KnownValues`` on http://127.0.0.1:PORT/metrics until :meth:`stop`."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.registry.register(KnownValues())
        self.port = free_port()
        server, thread = start_http_server(self.port, addr=LOOPBACK, registry=self.registry)
        self._server: WSGIServer = server
        self._thread = thread

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
