"""The embedded engine beside a real Prometheus, on the same backfilled data.

    python bench/engine.py [--runs 7] [--scrape-seconds 60]

Figures:
  * each query's time, as a 1 h range at a 15 s step and as an instant query: Prometheus's
    HTTP answer, the engine in process, and the engine over its own HTTP API
    (``watchdeck engine --load``), best and median of the runs;
  * bytes per stored sample;
  * CPU of scraping 10 targets x 2,000 series every 5 s (targets in another process).
Needs Debian's prometheus and promtool.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.support.backfill import BackfilledPrometheus, backfill  # noqa: E402
from tests.support.net import free_port, wait_http  # noqa: E402
from tests.support.openmetrics_data import START_S, generate_bench  # noqa: E402

from watchdeck.core.engine.load import load_text  # noqa: E402
from watchdeck.core.engine.promql import Evaluator  # noqa: E402
from watchdeck.core.engine.scrape import Scraper, Target  # noqa: E402
from watchdeck.core.engine.storage import Storage  # noqa: E402

QUERIES = [
    "histogram_quantile(0.99, sum by (le, model) (rate(x_bucket[5m])))",
    "sum by (x) (rate(y[1m]))",
]


def http_time(base: str, path: str, params: dict[str, str]) -> tuple[float, int]:
    url = f"{base}/api/v1/{path}?" + urllib.parse.urlencode(params)
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - loopback
        body = json.loads(response.read())
    elapsed = time.perf_counter() - started
    assert body["status"] == "success", body
    return elapsed, len(body["data"]["result"])


def summary(times: list[float]) -> str:
    return f"best {min(times) * 1000:7.1f} ms  median {statistics.median(times) * 1000:7.1f} ms"


def compare_queries(prom_url: str, engine_url: str, storage: Storage, runs: int,
                    end_ms: int) -> None:
    evaluator = Evaluator(storage)
    start_ms = end_ms - 3600_000
    for expr in QUERIES:
        for kind in ("range", "instant"):
            params = ({"query": expr, "start": f"{start_ms / 1000}", "end": f"{end_ms / 1000}",
                       "step": "15"} if kind == "range"
                      else {"query": expr, "time": f"{end_ms / 1000}"})
            path = "query_range" if kind == "range" else "query"
            prom, engine_http, in_process = [], [], []
            series = 0
            for _ in range(runs):
                elapsed, series = http_time(prom_url, path, params)
                prom.append(elapsed)
                engine_http.append(http_time(engine_url, path, params)[0])
                started = time.perf_counter()
                if kind == "range":
                    evaluator.range(expr, start_ms, end_ms, 15_000)
                else:
                    evaluator.instant(expr, end_ms)
                in_process.append(time.perf_counter() - started)
            print(f"{kind:<7} {expr}  ({series} series out)")
            print(f"  Prometheus HTTP     {summary(prom)}")
            print(f"  engine in process   {summary(in_process)}")
            print(f"  engine HTTP         {summary(engine_http)}")


async def scrape_cpu(seconds: float) -> None:
    ports = [free_port() for _ in range(10)]
    targets = subprocess.Popen([sys.executable, str(Path(__file__).parent / "_targets.py"),
                                *map(str, ports), "--series", "2000"],
                               stdout=subprocess.PIPE, text=True)
    try:
        assert targets.stdout is not None and targets.stdout.readline().strip() == "ready"
        storage = Storage()
        scraper = Scraper(storage, [Target(f"http://127.0.0.1:{p}/metrics") for p in ports],
                          interval=5.0)
        await scraper.scrape_all()  # warm up: series created
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        task = asyncio.create_task(scraper.run())
        await asyncio.sleep(seconds)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        cpu = time.process_time() - cpu_before
        wall = time.perf_counter() - wall_before
        up = sum(h.health == "up" for h in scraper.health.values())
        stats = storage.stats()
        print(f"scraping 10 targets x 2,000 series every 5 s for {wall:.0f} s: "
              f"{100 * cpu / wall:.1f} % of one core ({up}/10 up, "
              f"{stats['samples']:,} samples, {stats['bytes_per_sample']:.1f} bytes/sample)")
    finally:
        targets.terminate()
        targets.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--scrape-seconds", type=float, default=60.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="watchdeck-bench-engine-") as tmp:
        work = Path(tmp)
        text = generate_bench()
        data_file = work / "bench.om"
        data_file.write_text(text)
        storage = Storage(retention_ms=10 * 24 * 3600 * 1000)
        started = time.perf_counter()
        stats = load_text(text, storage)
        print(f"loaded {stats.samples:,} samples of {stats.series:,} series in "
              f"{time.perf_counter() - started:.1f} s")
        memory = storage.stats()
        print(f"store: {memory['bytes_per_sample']:.2f} bytes per sample "
              f"({memory['sample_bytes'] / 1e6:.1f} MB for {memory['samples']:,} samples)")
        end_ms = stats.max_time_ms or START_S * 1000
        tsdb = backfill(text, work)
        port = free_port()
        engine = subprocess.Popen(
            [sys.executable, "-m", "watchdeck", "engine", "--listen", f"127.0.0.1:{port}",
             "--load", str(data_file), "--retention", "3650d"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            with BackfilledPrometheus(work, tsdb) as prometheus:
                wait_http(f"http://127.0.0.1:{port}/-/ready", timeout=300)
                compare_queries(prometheus.url, f"http://127.0.0.1:{port}", storage,
                                args.runs, end_ms)
        finally:
            engine.terminate()
            engine.wait(timeout=10)
    asyncio.run(scrape_cpu(args.scrape_seconds))


if __name__ == "__main__":
    main()
