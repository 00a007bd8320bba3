"""The fleet's clockwork: fixed steps on a grid anchored at the start time.

Because steps sit on a fixed grid and every component draws from its own seeded stream,
the state after ``advance_to(t)`` depends only on the seed, the start time and ``t``:
not on how often, or how late, the caller asked. Nothing here does I/O.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from watchdeck.demo.config import FleetConfig
from watchdeck.demo.gateway import Gateway
from watchdeck.demo.gpus import Gpu
from watchdeck.demo.incidents import (
    FleetEffects,
    Incident,
    IncidentSchedule,
    Scheduled,
    effects_of,
)
from watchdeck.demo.load import SlowNoise, daily_load
from watchdeck.demo.randomness import poisson, stream
from watchdeck.demo.replica import Replica
from watchdeck.demo.workload import Request, draw_request

# After a long stall (a suspended laptop) the simulation jumps ahead instead of replaying
# hours of steps at once; only then does a run stop matching its seed.
MAX_CATCH_UP_STEPS = 2400


@dataclass
class StepOutput:
    finished: list[Request] = field(default_factory=list)    # in finishing order
    preempted: list[tuple[float, Request]] = field(default_factory=list)
    skipped_seconds: float = 0.0


class Simulation:
    def __init__(self, config: FleetConfig, start: float,
                 instances: Sequence[str] | None = None) -> None:
        self.config = config
        self.start = start
        self.steps = 0
        seed = config.seed
        self.replicas = [Replica(i, config.model_of(i), stream(seed, f"engine-{i}"))
                         for i in range(config.replicas)]
        self.instances = list(instances) if instances else [
            f"replica-{i}" for i in range(config.replicas)]
        self._arrival_rngs: list[random.Random] = [
            stream(seed, f"arrivals-{i}") for i in range(config.replicas)]
        self._noise = [SlowNoise(stream(seed, f"load-{i}")) for i in range(config.replicas)]
        self.gpus = [Gpu(g, config.replicas_of(g), stream(seed, f"gpu-{g}"))
                     for g in range(config.gpus)]
        models = []
        for replica in self.replicas:
            if replica.spec not in models:
                models.append(replica.spec)
        self.gateway = Gateway(models, stream(seed, "gateway"))
        self.schedule = IncidentSchedule(config, stream(seed, "incidents"))
        self.load = 0.0   # the daily curve at the last step, for the curious

    @property
    def now(self) -> float:
        return self.start + self.steps * self.config.tick

    def scenario_time(self, at: float | None = None) -> float:
        return ((self.now if at is None else at) - self.start) * self.config.speed

    def advance_to(self, t: float) -> StepOutput:
        """Run every step that ends at or before ``t``."""
        out = StepOutput()
        tick = self.config.tick
        due = int((t - self.start) / tick + 1e-9) - self.steps
        if due > MAX_CATCH_UP_STEPS:
            skip = due - MAX_CATCH_UP_STEPS
            self.steps += skip
            out.skipped_seconds = skip * tick
            due = MAX_CATCH_UP_STEPS
        for _ in range(max(0, due)):
            self._step(out)
        return out

    def _step(self, out: StepOutput) -> None:
        config = self.config
        t0 = self.now
        t1 = t0 + config.tick
        scenario0 = self.scenario_time(t0)
        scenario_dt = config.tick * config.speed
        active = self.schedule.active(scenario0)
        fx = effects_of(active, config, scenario0)
        self.load = daily_load(scenario0, config.day_seconds)

        finished: list[Request] = []
        for i, replica in enumerate(self.replicas):
            rfx = fx.replicas[i]
            # A throttled GPU slows every replica it carries.
            if any(self.gpus[g].throttled for g in config.gpus_of(i)):
                rfx.slowdown *= 1.4
            noise = self._noise[i].step(scenario_dt)
            rate = replica.spec.peak_rate * self.load * noise * rfx.arrival_factor
            arrivals = self._arrivals(i, t0, t1, rate + rfx.extra_rate, fx)
            finished.extend(replica.step(t0, t1, arrivals, rfx))
            out.preempted.extend((t1, r) for r in replica.preempted)

        for gpu in self.gpus:
            hot = fx.hot_gpus.get(gpu.identity.index)
            gpu.step(config.tick, scenario_dt, [self.replicas[r] for r in gpu.replicas], hot)

        finished.sort(key=lambda r: r.finished_at)
        for request in finished:
            self.gateway.observe(request)
        self.gateway.step()
        out.finished.extend(finished)
        self.steps += 1

    def _arrivals(self, i: int, t0: float, t1: float, rate: float, fx: FleetEffects
                  ) -> list[Request]:
        rng = self._arrival_rngs[i]
        spec = self.replicas[i].spec
        count = poisson(rng, rate * (t1 - t0))
        times = sorted(rng.uniform(t0, t1) for _ in range(count))
        return [draw_request(rng, i, spec, fx.replicas[i], when) for when in times]

    # -- what the console shows -----------------------------------------------------------

    def active_incidents(self) -> list[Incident]:
        scenario = self.scenario_time()
        return [self._describe(s) for s in self.schedule.active(scenario)]

    def _describe(self, incident: Scheduled) -> Incident:
        started = self.start + incident.start / self.config.speed
        if incident.kind == "gpu_hot":
            target = f'gpu="{incident.subject}"'
        elif incident.kind == "model_drift":
            target = f'model_name="{incident.subject}"'
        else:
            target = f'instance="{self.instances[int(incident.subject)]}"'
        return Incident(incident.kind, target, started)
