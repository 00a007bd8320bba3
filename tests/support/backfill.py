"""A real Prometheus answering queries over backfilled OpenMetrics data.

``promtool tsdb create-blocks-from openmetrics`` turns the file into TSDB blocks, and
Debian's ``prometheus`` is started on that data directory (no scrape targets, retention
long enough to keep old data) on a free loopback port.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from tests.support.net import LOOPBACK, free_port, wait_http
from tests.support.prometheus import require_binary


def backfill(openmetrics_text: str, workdir: Path) -> Path:
    """Blocks for ``openmetrics_text`` in ``workdir/data``; returns the data dir."""
    promtool = require_binary("promtool")
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / "data.om"
    source.write_text(openmetrics_text, encoding="utf-8")
    data = workdir / "data"
    data.mkdir(exist_ok=True)
    done = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source),
                           str(data)], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"promtool failed:\n{done.stdout}\n{done.stderr}")
    return data


class BackfilledPrometheus:
    """Prometheus on an existing TSDB directory. Use as a context manager."""

    def __init__(self, workdir: Path, data: Path) -> None:
        self.binary = require_binary("prometheus")
        self.workdir = workdir
        self.data = data
        self.port = free_port()
        self.config = workdir / "prometheus.yml"
        self.config.write_text("global:\n  scrape_interval: 1m\nscrape_configs: []\n",
                               encoding="utf-8")
        self.log_path = workdir / "prometheus.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 60.0) -> BackfilledPrometheus:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [self.binary, f"--config.file={self.config}", f"--storage.tsdb.path={self.data}",
             "--storage.tsdb.retention.time=100y", f"--web.listen-address={LOOPBACK}:{self.port}",
             "--query.lookback-delta=5m", "--log.level=warn"],
            stdout=log, stderr=log)
        log.close()
        try:
            wait_http(f"{self.url}/-/ready", timeout)
        except TimeoutError:
            self.stop()
            raise RuntimeError("prometheus did not start:\n"
                               + self.log_path.read_text()[-2000:]) from None
        return self

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def __enter__(self) -> BackfilledPrometheus:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def api(self, path: str, params: dict[str, str]) -> tuple[int, dict, float]:
        """(HTTP status, decoded JSON envelope, seconds taken) of a GET."""
        url = f"{self.url}/api/v1/{path}?" + urllib.parse.urlencode(params)
        began = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - loopback
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            body = error.read()
            status = error.code
        return status, json.loads(body), time.perf_counter() - began

    def query(self, expr: str, time_ms: int) -> dict:
        return self.api("query", {"query": expr, "time": _seconds(time_ms)})[1]

    def query_range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> dict:
        return self.api("query_range", {"query": expr, "start": _seconds(start_ms),
                                         "end": _seconds(end_ms), "step": _seconds(step_ms)})[1]


def _seconds(ms: int) -> str:
    return f"{ms // 1000}.{ms % 1000:03d}" if ms >= 0 else str(ms / 1000)
