"""Debian's Alertmanager, and a Debian Prometheus that sends it alerts, on free loopback
ports in temp dirs.

Alertmanager runs without clustering (``--cluster.listen-address=``), with receivers that
have no integrations (nothing is ever sent anywhere), a route that groups by alertname with
short waits, and one inhibition rule: a ``critical`` alert inhibits the ``warning`` alerts
of the same ``replica`` (only warnings that have a replica label can be inhibited).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.support.net import LOOPBACK, free_port, wait_http
from tests.support.prometheus import PrometheusServer, require_binary

ALERTMANAGER_BINARY = "prometheus-alertmanager"

# Receivers: ``blackhole`` catches everything, ``oncall`` the critical alerts. Neither has an
# integration. The sub-route lets tests check the ``receiver`` filter.
ALERTMANAGER_CONFIG = """\
route:
  receiver: blackhole
  group_by: [alertname]
  group_wait: 200ms
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: oncall
      matchers: ['severity="critical"']
receivers:
  - name: blackhole
  - name: oncall
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"', 'replica=~".+"']
    equal: [replica]
"""


class AlertmanagerServer:
    """``prometheus-alertmanager`` on 127.0.0.1:PORT with its data in ``workdir``."""

    def __init__(self, workdir: Path, config: str = ALERTMANAGER_CONFIG) -> None:
        self.binary = require_binary(ALERTMANAGER_BINARY)
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.data = workdir / "data"
        self.config = workdir / "alertmanager.yml"
        self.log = workdir / "alertmanager.log"
        self.config.write_text(config, encoding="utf-8")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def target(self) -> str:
        """host:port, as Prometheus's ``alerting`` section wants it."""
        return f"{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.binary,
                    f"--config.file={self.config}",
                    f"--storage.path={self.data}",
                    f"--web.listen-address={LOOPBACK}:{self.port}",
                    "--cluster.listen-address=",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=log,
            )
        try:
            wait_http(f"{self.url}/-/ready", timeout)
        except TimeoutError:
            self.stop()
            raise RuntimeError(
                f"alertmanager did not start:\n{self.log.read_text()[-2000:]}") from None

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
        """Stop and start again on the same port and data (silences survive a restart,
        alerts come back at Prometheus's next resend)."""
        self.stop()
        time.sleep(0.2)
        self.start()

    # ---------------------------------------------------------------- direct API access

    def api(self, method: str, path: str, body: Any = None) -> Any:
        """Call ``/api/v2/PATH`` directly (not through watchdeck); the decoded answer."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}/api/v2/{path.lstrip('/')}", data=data, method=method,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
            raw = response.read()
        return json.loads(raw) if raw.strip() else None

    def alerts(self) -> list[dict[str, Any]]:
        return self.api("GET", "alerts")

    def post_alerts(self, alerts: list[dict[str, Any]]) -> None:
        """Push alerts as Prometheus would (``labels``, ``annotations``, ``startsAt``,
        ``endsAt``); an ``endsAt`` in the past resolves them."""
        self.api("POST", "alerts", alerts)

    def wait_alerts(self, ok: Any, timeout: float = 30.0, params: str = "") -> list[dict]:
        """Poll ``GET /api/v2/alerts?PARAMS`` until ``ok(alerts)``; the alerts."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            try:
                last = self.api("GET", f"alerts?{params}" if params else "alerts")
                if ok(last):
                    return last
            except OSError as error:
                last = error
            if time.monotonic() > deadline:
                raise TimeoutError(f"alertmanager alerts not as expected after {timeout}s; "
                                   f"last answer: {last!r:.2000}")
            time.sleep(0.1)

    def expire_all_silences(self) -> None:
        """Expire every silence that is not expired yet (a test's cleanup)."""
        for silence in self.api("GET", "silences"):
            if silence["status"]["state"] != "expired":
                self.api("DELETE", f"silence/{silence['id']}")


class AlertingPrometheus(PrometheusServer):
    """Debian's Prometheus scraping ``targets`` every second, evaluating ``rules`` every
    second and sending alerts to ``alertmanager`` (resent every second)."""

    def __init__(self, workdir: Path, targets: list[str], alertmanager: AlertmanagerServer,
                 rules: str, extra_args: list[str] | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.rules = workdir / "alerting-rules.yml"
        self.rules.write_text(rules, encoding="utf-8")
        super().__init__(workdir, targets, scrape_interval="1s", rule_files=[self.rules],
                         extra_args=["--rules.alert.resend-delay=1s", *(extra_args or [])])
        self.alertmanager = alertmanager
        with self.config.open("a", encoding="utf-8") as config:
            config.write(
                "alerting:\n"
                "  alertmanagers:\n"
                "    - static_configs:\n"
                f'        - targets: ["{alertmanager.target}"]\n'
            )

    def rules_api(self) -> dict[str, Any]:
        with urllib.request.urlopen(  # noqa: S310 - loopback
                f"{self.url}/api/v1/rules?type=alert", timeout=5) as response:
            return json.loads(response.read())["data"]
