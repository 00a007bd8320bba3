"""What the demo fleet simulates: its size, its models, its pace, where it writes.

The model figures are invented but plausible for one H100 per replica; they are tuned so
that a normal day keeps KV cache and queues comfortable and an incident visibly breaks
them (see :mod:`watchdeck.demo.incidents`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

INCIDENT_KINDS = (
    "latency_spike",
    "error_burst",
    "queue_buildup",
    "kv_cache_saturation",
    "gpu_hot",
    "model_drift",
)

MAX_GPUS = 8  # one HGX node, as one dcgm-exporter would see it
MAX_REPLICAS = 16


@dataclass(frozen=True)
class ModelSpec:
    """One served model and the serving characteristics of a replica running it."""

    name: str
    max_model_len: int
    kv_capacity_tokens: int       # KV-cache size of one replica, in tokens
    max_num_seqs: int             # vLLM's batch limit (running requests)
    itl: float                    # seconds per output token with an almost empty batch
    prefill_tokens_per_s: float   # prompt tokens a replica prefills per second
    peak_rate: float              # requests/s one replica receives at the daily peak
    prompt_median: int            # tokens
    output_median: int            # tokens
    usd_per_m_input: float        # invented list prices, USD per million tokens
    usd_per_m_output: float
    weights_mib: int              # GPU memory held by the weights


DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("meta-llama/Llama-3.1-8B-Instruct", max_model_len=8192,
              kv_capacity_tokens=200_000, max_num_seqs=128, itl=0.012,
              prefill_tokens_per_s=14_000, peak_rate=6.0, prompt_median=650,
              output_median=190, usd_per_m_input=0.20, usd_per_m_output=0.60,
              weights_mib=15_320),
    ModelSpec("mistralai/Mistral-7B-Instruct-v0.3", max_model_len=32768,
              kv_capacity_tokens=200_000, max_num_seqs=128, itl=0.011,
              prefill_tokens_per_s=15_000, peak_rate=5.0, prompt_median=520,
              output_median=160, usd_per_m_input=0.20, usd_per_m_output=0.60,
              weights_mib=13_820),
    ModelSpec("Qwen/Qwen2.5-14B-Instruct", max_model_len=32768,
              kv_capacity_tokens=300_000, max_num_seqs=128, itl=0.021,
              prefill_tokens_per_s=8_000, peak_rate=3.0, prompt_median=800,
              output_median=240, usd_per_m_input=0.40, usd_per_m_output=1.20,
              weights_mib=28_170),
)


@dataclass
class FleetConfig:
    """How big the fleet is and how its scenario runs.

    ``speed`` compresses the *scenario* (the daily load curve, the incident schedule and
    the thermal/drift dynamics) but not the requests themselves: timestamps stay on the
    clock, so a real Prometheus or trace backend can ingest everything.
    ``incident_every`` and ``incident_duration`` are in scenario seconds.
    """

    replicas: int = 3
    gpus: int = 4
    seed: int = 0
    log_path: Path | None = None
    incident_every: float = 180.0
    speed: float = 1.0
    incident_duration: float | None = None   # default: half of incident_every
    incident_kinds: tuple[str, ...] = INCIDENT_KINDS
    models: tuple[ModelSpec, ...] = DEFAULT_MODELS
    tick: float = 0.25                       # simulation step, seconds
    # Seconds simulated (at once) before the endpoints open, so that the first scrape
    # already sees a fleet in mid-flight rather than empty queues and zero counters.
    warmup: float = 30.0
    day_seconds: float = 3600.0              # one compressed "day" of load, scenario seconds
    host: str = "127.0.0.1"
    log_max_bytes: int = 16 * 1024 * 1024    # then the file rotates to <name>.1
    # Where spans go. Without either, only where OTEL_EXPORTER_OTLP_ENDPOINT (or
    # ..._TRACES_ENDPOINT) says, and nowhere when neither is set.
    otlp_endpoint: str | None = None         # OTLP/HTTP base URL, e.g. http://127.0.0.1:4318
    span_exporter: Any = field(default=None, repr=False)   # an SDK SpanExporter (tests)

    def __post_init__(self) -> None:
        if not 1 <= self.replicas <= MAX_REPLICAS:
            raise ValueError(f"replicas must be 1..{MAX_REPLICAS}, not {self.replicas}")
        if not 1 <= self.gpus <= MAX_GPUS:
            raise ValueError(f"gpus must be 1..{MAX_GPUS} (one node), not {self.gpus}")
        if self.incident_every <= 0 or self.speed <= 0 or self.tick <= 0:
            raise ValueError("incident_every, speed and tick must be positive")
        if self.warmup < 0:
            raise ValueError("warmup cannot be negative")
        if not self.models:
            raise ValueError("the fleet needs at least one model")
        unknown = set(self.incident_kinds) - set(INCIDENT_KINDS)
        if unknown:
            raise ValueError(f"unknown incident kinds: {', '.join(sorted(unknown))}; "
                             f"known: {', '.join(INCIDENT_KINDS)}")
        if self.log_path is not None:
            self.log_path = Path(self.log_path)

    @property
    def incident_length(self) -> float:
        if self.incident_duration is not None:
            return self.incident_duration
        return self.incident_every / 2

    def model_of(self, replica: int) -> ModelSpec:
        return self.models[replica % len(self.models)]

    def gpus_of(self, replica: int) -> list[int]:
        """The GPUs a replica runs on (tensor parallel when there are more GPUs)."""
        return [g for g in range(self.gpus) if replica in self.replicas_of(g)]

    def replicas_of(self, gpu: int) -> list[int]:
        """The replicas on one GPU: spread round-robin; shared when GPUs are scarce."""
        if self.gpus >= self.replicas:
            return [gpu % self.replicas]
        return [r for r in range(self.replicas) if r % self.gpus == gpu]
