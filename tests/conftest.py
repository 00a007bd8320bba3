"""Shared fixtures: the developer's own config hidden, UTC, real servers on loopback."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["TZ"] = "UTC"
time.tzset()

from tests.support.alerting import AlertingStack, alerting_stack  # noqa: E402
from tests.support.exporter import Exporter  # noqa: E402
from tests.support.prometheus import NodeExporter, PrometheusServer  # noqa: E402


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
                     ) -> None:
    """Never read the developer's ~/.config/watchdeck."""
    monkeypatch.setenv("WATCHDECK_CONFIG_DIR", str(tmp_path_factory.mktemp("config-home")))


@pytest.fixture(scope="session")
def exporter() -> Iterator[Exporter]:
    served = Exporter()
    yield served
    served.stop()


@pytest.fixture(scope="session")
def alerting(exporter: Exporter, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[AlertingStack]:
    """Real Prometheus (rules over the exporter's values) sending to a real Alertmanager;
    Alertmanager holds tests/support/alerting.py's EXPECTED. A test that silences or pushes
    alerts leaves it as it found it (``stack.reset()``)."""
    with alerting_stack(tmp_path_factory.mktemp("alerting"), exporter.target) as stack:
        yield stack


@pytest.fixture(scope="session")
def node_exporter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeExporter]:
    served = NodeExporter(tmp_path_factory.mktemp("node-exporter"))
    yield served
    served.stop()


@pytest.fixture(scope="session")
def prometheus(exporter: Exporter, node_exporter: NodeExporter,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """One Prometheus for the session, scraping the exporter (and node_exporter) every
    second."""
    server = PrometheusServer(tmp_path_factory.mktemp("prometheus"), [exporter.target],
                              node_targets=[node_exporter.target])
    server.start()
    # rate() needs a few scrapes before the known values settle.
    server.wait_for('count_over_time(wd_requests_total{code="200"}[1m]) >= 20', timeout=90)
    yield server
    server.stop()


@pytest.fixture
def own_prometheus(exporter: Exporter, tmp_path: Path) -> Iterator[PrometheusServer]:
    """A Prometheus this test may stop and restart."""
    server = PrometheusServer(tmp_path / "prometheus", [exporter.target])
    server.start()
    server.wait_for('count_over_time(wd_requests_total{code="200"}[1m]) >= 3', timeout=60)
    yield server
    server.stop()
