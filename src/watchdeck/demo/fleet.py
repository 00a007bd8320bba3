"""The demo fleet's lifecycle: ports, the simulation loop, logs and traces.

Everything runs on the caller's event loop. The only thread is the OpenTelemetry batch
exporter's, and only when OTLP export is on; ``stop()`` joins it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchdeck.demo.config import FleetConfig
from watchdeck.demo.exposition import DcgmCollector, GatewayCollector, VllmCollector
from watchdeck.demo.incidents import Incident
from watchdeck.demo.logs import JsonLogWriter, preemption_record, request_record
from watchdeck.demo.server import MetricsEndpoint
from watchdeck.demo.simulation import Simulation, StepOutput

log = logging.getLogger(__name__)

RULES_PATH = Path(__file__).with_name("rules.yaml")


@dataclass(frozen=True)
class Target:
    """One scrape target and what it pretends to be."""

    url: str
    kind: str      # "vllm", "dcgm" or "gateway"
    detail: str    # replica and model, node, ...


class Fleet:
    def __init__(self, config: FleetConfig | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config or FleetConfig()
        self._clock = clock
        self.simulation: Simulation | None = None
        self._endpoints: list[MetricsEndpoint] = []
        self._described: list[Target] = []
        self._replica_names: list[str] = []
        self._task: asyncio.Task[None] | None = None
        self._logs: JsonLogWriter | None = None
        self._tracer: Any = None

    # -- the lead's API -------------------------------------------------------------------

    @property
    def targets(self) -> list[str]:
        return [t.url for t in self._described]

    @property
    def described_targets(self) -> list[Target]:
        return list(self._described)

    @property
    def rules_path(self) -> Path:
        return RULES_PATH

    @property
    def log_path(self) -> Path | None:
        return self.config.log_path

    def active_incidents(self) -> list[Incident]:
        return self.simulation.active_incidents() if self.simulation else []

    async def start(self) -> None:
        if self._task is not None:
            raise RuntimeError("the fleet is already running")
        config = self.config
        try:
            await self._start(config)
        except BaseException:
            await self.stop()
            raise

    def freeze(self) -> None:
        """Stop the simulation where it is; the endpoints go on serving its last state.
        For comparing two scrapers of the fleet on the very same values."""
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        endpoints, self._endpoints = self._endpoints, []
        for endpoint in endpoints:
            await endpoint.stop()
        if self._logs is not None:
            self._logs.close()
            self._logs = None
        tracer, self._tracer = self._tracer, None
        if tracer is not None:
            await _in_own_thread(tracer.shutdown)

    async def __aenter__(self) -> Fleet:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- inside ---------------------------------------------------------------------------

    async def _start(self, config: FleetConfig) -> None:
        host = config.host
        self._replica_names = []
        replica_endpoints = []
        for i in range(config.replicas):
            name = f"vllm-{i}"
            self._replica_names.append(name)
            replica_endpoints.append(MetricsEndpoint(name, host))
        dcgm = MetricsEndpoint("dcgm-exporter", host)
        gateway = MetricsEndpoint("llm-gateway", host)
        self._endpoints = [*replica_endpoints, dcgm, gateway]

        instances = [e.instance for e in replica_endpoints]
        start = self._clock()
        sim = Simulation(config, start=start - config.warmup, instances=instances)
        self.simulation = sim
        for endpoint, replica in zip(replica_endpoints, sim.replicas):
            endpoint.register(VllmCollector(replica))
        dcgm.register(DcgmCollector(sim.gpus, self._replica_names))
        gateway.register(GatewayCollector(sim.gateway))

        self._described = [
            *(Target(e.url, "vllm", f"{e.name} serving {r.spec.name}")
              for e, r in zip(replica_endpoints, sim.replicas)),
            Target(dcgm.url, "dcgm", f"dcgm-exporter, {config.gpus} GPUs"),
            Target(gateway.url, "gateway", "LLM gateway: cost, feedback, drift, confidence"),
        ]
        if config.log_path is not None:
            self._logs = JsonLogWriter(config.log_path, config.log_max_bytes)
            self._logs.open()
        self._tracer = self._make_tracer(replica_endpoints)

        self._emit(sim.advance_to(start))   # the warm-up
        for endpoint in self._endpoints:
            await endpoint.start()
        self._task = asyncio.create_task(self._run(), name="watchdeck-demo-fleet")

    def _make_tracer(self, endpoints: list[MetricsEndpoint]) -> Any:
        config = self.config
        if config.span_exporter is None and not config.otlp_endpoint and not otlp_wanted():
            return None   # nobody wants spans: the SDK is never even imported
        try:
            from watchdeck.demo.tracing import ReplicaInfo, build_tracer
        except ImportError as error:
            log.warning("OTLP export asked for, but OpenTelemetry is not installed (%s); "
                        "the demo runs without traces", error)
            return None
        replicas = [ReplicaInfo(n, e.host, e.port)
                    for n, e in zip(self._replica_names, endpoints)]
        return build_tracer(config.span_exporter, replicas, config.otlp_endpoint)

    async def _run(self) -> None:
        assert self.simulation is not None
        while True:
            await asyncio.sleep(self.config.tick)
            try:
                self._emit(self.simulation.advance_to(self._clock()))
            except Exception:   # a bug in one step must not silently stop the fleet
                log.exception("demo fleet step failed")

    def _emit(self, out: StepOutput) -> None:
        if out.skipped_seconds:
            log.warning("demo fleet fell %.0f s behind the clock and skipped ahead",
                        out.skipped_seconds)
        names = self._replica_names
        instances = self.simulation.instances if self.simulation else []
        if self._logs is not None:
            lines = [(r.finished_at, request_record(r, names[r.replica], instances[r.replica]))
                     for r in out.finished]
            lines += [(at, preemption_record(r, at, names[r.replica], instances[r.replica]))
                      for at, r in out.preempted]
            lines.sort(key=lambda line: line[0])
            for _, record in lines:
                self._logs.write(record)
            self._logs.flush()
        if self._tracer is not None:
            for request in out.finished:
                self._tracer.trace(request)


def otlp_wanted() -> bool:
    """Whether the standard OpenTelemetry environment asks for OTLP trace export."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


async def _in_own_thread(work: Callable[[], object]) -> None:
    """Run blocking ``work`` in a thread of its own and wait for it without blocking the
    loop; unlike ``asyncio.to_thread`` this leaves no pool thread behind."""
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def target() -> None:
        try:
            work()
        except Exception:
            log.exception("demo fleet: shutting down tracing failed")
        finally:
            loop.call_soon_threadsafe(done.set)

    thread = threading.Thread(target=target, name="watchdeck-demo-otel-shutdown")
    thread.start()
    await done.wait()
    thread.join()
