"""Debian's Prometheus, started on a free loopback port with a temp data dir."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.net import LOOPBACK, free_port, wait_http


def require_binary(name: str) -> str:
    """The binary's path; skip the test locally, fail it in CI, when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian package: see .ci/run)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


class NodeExporter:
    """Debian's node_exporter on a free loopback port (the host's real CPU, memory, disks)."""

    def __init__(self, workdir: Path) -> None:
        self.binary = require_binary("prometheus-node-exporter")
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = (workdir / "node_exporter.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, f"--web.listen-address={LOOPBACK}:{self.port}",
             "--no-collector.systemd"],
            stdout=self.log, stderr=self.log,
        )
        wait_http(f"http://{LOOPBACK}:{self.port}/metrics", 20)

    @property
    def target(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.log.close()


class PrometheusServer:
    def __init__(self, workdir: Path, targets: list[str], scrape_interval: str = "1s",
                 rule_files: list[Path] | None = None, extra_args: list[str] | None = None,
                 node_targets: list[str] | None = None, exemplars: bool = False) -> None:
        """``exemplars``: start with ``--enable-feature=exemplar-storage`` (serves
        ``/api/v1/query_exemplars`` from OpenMetrics scrapes)."""
        self.binary = require_binary("prometheus")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.data = workdir / "data"
        self.config = workdir / "prometheus.yml"
        self.log = workdir / "prometheus.log"
        rules = "".join(f"\n  - {path}" for path in rule_files or [])
        self.config.write_text(
            f"""global:
  scrape_interval: {scrape_interval}
  evaluation_interval: {scrape_interval}
rule_files:{rules or " []"}
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["{LOOPBACK}:{self.port}"]
  - job_name: app
    static_configs:
      - targets: [{", ".join(f'"{t}"' for t in targets)}]
  - job_name: node
    static_configs:
      - targets: [{", ".join(f'"{t}"' for t in node_targets or [])}]
""",
            encoding="utf-8",
        )
        self.extra_args = list(extra_args or [])
        if exemplars:
            self.extra_args.append("--enable-feature=exemplar-storage")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        log = self.log.open("ab")
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.config}",
                f"--storage.tsdb.path={self.data}",
                f"--web.listen-address={LOOPBACK}:{self.port}",
                "--log.level=warn",
                *self.extra_args,
            ],
            stdout=log,
            stderr=log,
        )
        try:
            wait_http(f"{self.url}/-/ready", timeout)
        except TimeoutError:
            self.stop()
            log = self.log.read_text()[-2000:]
            raise RuntimeError(f"prometheus did not start:\n{log}") from None

    def wait_for(self, query: str, timeout: float = 30.0) -> None:
        """Until ``query`` returns a non-empty result."""
        import json
        import urllib.parse

        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})

        def has_data(status: int, body: bytes) -> bool:
            return status == 200 and bool(json.loads(body)["data"]["result"])

        wait_http(url, timeout, ok=has_data)

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

    def restart(self) -> None:
        self.stop()
        time.sleep(0.2)
        self.start()
