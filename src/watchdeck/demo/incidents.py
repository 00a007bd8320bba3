"""Scripted incidents: when they happen, what they hit, and what they do to the fleet.

Incident ``k`` starts at ``incident_every * (k + 1/3)`` scenario seconds and lasts
``incident_length``; the kinds come round in a seeded shuffle (every kind once per round)
and each picks its victim with the same seeded stream, so a seed fixes the whole script.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import NamedTuple

from watchdeck.demo.config import FleetConfig

# The rules of rules.yaml each incident is scripted to fire (and, after it, to resolve),
# and the knock-on alerts it may also fire: a replica that slows down or whose KV cache
# fills starts queueing requests.
ALERTS_BY_INCIDENT: dict[str, tuple[str, ...]] = {
    "latency_spike": ("VLLMInterTokenLatencyHigh",),
    "error_burst": ("VLLMHighErrorRate",),
    "queue_buildup": ("VLLMRequestQueueBuildUp",),
    "kv_cache_saturation": ("VLLMKVCacheSaturated",),
    "gpu_hot": ("GPUHighTemperature", "GPUPowerNearLimit", "GPUXidError"),
    "model_drift": ("ModelInputDrift",),
}
KNOCK_ON_ALERTS: dict[str, tuple[str, ...]] = {
    "latency_spike": ("VLLMRequestQueueBuildUp",),
    "kv_cache_saturation": ("VLLMRequestQueueBuildUp",),
}


class Incident(NamedTuple):
    """An incident as the console shows it: ``target`` is a label matcher that finds the
    affected series (``instance="127.0.0.1:41234"``, ``gpu="2"``, ``model_name="…"``)."""

    name: str
    target: str
    started_at: float   # epoch seconds


@dataclass(frozen=True)
class Scheduled:
    kind: str
    subject: int | str   # replica index, GPU index or model name
    start: float         # scenario seconds
    end: float


@dataclass
class ReplicaEffects:
    """Multipliers an incident applies to one replica's requests (1.0 / 0.0 = none)."""

    slowdown: float = 1.0          # prefill and per-token time
    step_stall: float = 0.0        # seconds added to every engine step
    error_rate: float = 0.0        # extra share of requests that fail
    arrival_factor: float = 1.0
    extra_rate: float = 0.0        # requests/s on top of the daily curve (a batch client)
    capacity_factor: float = 1.0   # share of max_num_seqs the engine can run
    prompt_factor: float = 1.0
    output_factor: float = 1.0
    cache_hit_factor: float = 1.0
    drift: bool = False


@dataclass
class FleetEffects:
    replicas: list[ReplicaEffects]
    hot_gpus: dict[int, float] = field(default_factory=dict)   # GPU -> share of incident over
    drifting_models: set[str] = field(default_factory=set)


class IncidentSchedule:
    def __init__(self, config: FleetConfig, rng: random.Random) -> None:
        self._config = config
        self._rng = rng
        self._planned: list[Scheduled] = []
        self._round: list[str] = []
        served = {config.model_of(r).name for r in range(config.replicas)}
        self._models = sorted(served)

    def _plan(self, index: int) -> Scheduled:
        # Planned strictly in order, so the draws do not depend on who asks when.
        config = self._config
        while len(self._planned) <= index:
            k = len(self._planned)
            if not self._round:
                self._round = list(config.incident_kinds)
                self._rng.shuffle(self._round)
            kind = self._round.pop(0)
            subject: int | str
            if kind == "gpu_hot":
                subject = self._rng.randrange(config.gpus)
            elif kind == "model_drift":
                subject = self._rng.choice(self._models)
            else:
                subject = self._rng.randrange(config.replicas)
            start = config.incident_every * (k + 1 / 3)
            self._planned.append(Scheduled(kind, subject, start, start + config.incident_length))
        return self._planned[index]

    def active(self, scenario_time: float) -> list[Scheduled]:
        if not self._config.incident_kinds or scenario_time < 0:
            return []
        every = self._config.incident_every
        # Incidents may overlap when they last longer than the gap between them.
        newest = int(scenario_time / every - 1 / 3) if scenario_time >= every / 3 else -1
        oldest = max(0, newest - int(self._config.incident_length / every) - 1)
        found = []
        for index in range(oldest, newest + 1):
            planned = self._plan(index)
            if planned.start <= scenario_time < planned.end:
                found.append(planned)
        return found


def effects_of(active: list[Scheduled], config: FleetConfig, scenario_time: float
               ) -> FleetEffects:
    """Turn the active incidents into per-replica multipliers and GPU/model flags."""
    replicas = [ReplicaEffects() for _ in range(config.replicas)]
    fx = FleetEffects(replicas)
    for incident in active:
        if incident.kind == "gpu_hot":
            length = max(incident.end - incident.start, 1e-9)
            fx.hot_gpus[int(incident.subject)] = (scenario_time - incident.start) / length
            continue
        if incident.kind == "model_drift":
            fx.drifting_models.add(str(incident.subject))
            for r in range(config.replicas):
                if config.model_of(r).name == incident.subject:
                    replicas[r].drift = True
            continue
        target = replicas[int(incident.subject)]
        if incident.kind == "latency_spike":
            # A CPU-starved scheduler on a degraded host: every engine step is slower and
            # waits ~60 ms on top, which takes every model past a 100 ms/token SLO.
            target.slowdown *= 2.5
            target.step_stall += 0.06
        elif incident.kind == "error_burst":
            target.error_rate += 0.35
        elif incident.kind == "queue_buildup":
            # A batch client floods one replica (whatever the time of day) just as a bad
            # rollout caps its batch at a fifth of max_num_seqs.
            target.extra_rate += 12.0
            target.capacity_factor *= 0.2
        elif incident.kind == "kv_cache_saturation":
            # A burst of long-context (RAG) traffic: long prompts fill the cache at once,
            # long answers keep growing it, so vLLM queues and preempts.
            target.extra_rate += 5.0
            target.prompt_factor *= 5.0
            target.output_factor *= 3.0
            target.cache_hit_factor *= 0.3
    return fx
