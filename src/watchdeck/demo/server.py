"""One ``/metrics`` endpoint on its own loopback port, served by aiohttp.

Content negotiation is prometheus_client's own (``choose_encoder``): a scraper that
accepts ``application/openmetrics-text`` (Prometheus does by default) gets OpenMetrics
with exemplars, anyone else the classic text format.

One deliberate difference: prometheus_client (0.26 at least) writes OpenMetrics sample
names with its *label*-name character set when asked for ``escaping=underscores`` (its
default), so ``vllm:e2e_request_latency_seconds_bucket`` comes out as
``vllm_e2e_...`` under a ``# TYPE vllm:e2e_...`` line (prometheus/client_python#1177).
Every name here is a valid legacy name, so rendering with ``allow-utf-8`` escaping
gives exactly the output a fixed client would.
"""

from __future__ import annotations

import socket

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.openmetrics import exposition as openmetrics

OPENMETRICS = "application/openmetrics-text"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


def render(registry: CollectorRegistry, accept: str) -> tuple[bytes, str]:
    """The exposition body and its content type for an ``Accept`` header."""
    encoder, content_type = choose_encoder(accept)
    if not content_type.startswith(OPENMETRICS):
        return encoder(registry), content_type
    try:
        body = openmetrics.generate_latest(registry, escaping=openmetrics.ALLOWUTF8)
    except TypeError:   # prometheus_client before escaping schemes: names kept as they are
        body = openmetrics.generate_latest(registry)
    return body, OPENMETRICS_CONTENT_TYPE


class MetricsEndpoint:
    def __init__(self, name: str, host: str) -> None:
        self.name = name
        self.registry = CollectorRegistry(auto_describe=False)
        # Bound now, so the port is known (and ours) before anything is served.
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.host, self.port = self._socket.getsockname()[:2]
        self._runner: web.AppRunner | None = None

    def register(self, collector: object) -> None:
        self.registry.register(collector)  # type: ignore[arg-type]

    @property
    def instance(self) -> str:
        """The ``instance`` label Prometheus gives this target."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.instance}/metrics"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._index)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0)
        await self._runner.setup()
        await web.SockSite(self._runner, self._socket).start()

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._socket.close()

    async def _metrics(self, request: web.Request) -> web.Response:
        # No compression: aiohttp compresses large bodies in a thread pool, and the
        # fleet promises to leave no thread behind; on loopback it gains nothing.
        body, content_type = render(self.registry, request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def _index(self, request: web.Request) -> web.Response:
        return web.Response(text=f"watchdeck demo: {self.name}\nmetrics: /metrics\n")
