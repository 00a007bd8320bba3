"""One simulated request: its shape (drawn when it arrives) and its progress.

Every id a request will ever need (trace, spans, request id) is drawn here, from the
seeded stream, so logs, exemplars and spans share ids whether or not tracing is on.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from watchdeck.demo.config import ModelSpec
from watchdeck.demo.incidents import ReplicaEffects
from watchdeck.demo.randomness import lognormal, nonzero_bits

FINISH_REASONS = ("stop", "length", "abort", "error", "repetition")

# Baseline odds of the rarer endings; incidents add to the error share.
_P_ERROR = 0.001
_P_ABORT = 0.006
_P_REPETITION = 0.002
_MAX_TOKENS_CHOICES = (256, 512, 512, 1024, 1024, 2048)
_SHARED_PREFIXES = (256, 512, 1024)   # system prompts that the prefix cache keeps
_BLOCK = 16                           # vLLM's KV block size, in tokens

# "<exception type>: <message>", as a failed request's log line and span report it.
ERROR_MESSAGES = (
    "RuntimeError: CUDA error: an illegal memory access was encountered",
    "EngineDeadError: EngineCore encountered an issue. See stack trace (above) for the "
    "root cause.",
    "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 1.02 GiB",
    "RuntimeError: NCCL communicator was aborted on rank 0",
)

# What users ask for. The gateway measures drift on this mix; a drifting population
# brings a different one (a new client with translation and off-domain traffic).
TOPICS = ("chat", "code", "summarization", "extraction", "translation", "other")
TOPIC_MIX = (0.42, 0.22, 0.16, 0.10, 0.06, 0.04)
DRIFTED_TOPIC_MIX = (0.22, 0.10, 0.10, 0.06, 0.22, 0.30)

# Span order in Request.span_ids.
GATEWAY, ROUTER, SERVER, PREFILL, DECODE = range(5)


@dataclass(eq=False)
class Request:
    replica: int
    model: str
    request_id: str
    trace_id: int
    span_ids: tuple[int, int, int, int, int]
    arrival: float
    prompt_tokens: int
    cached_tokens: int
    max_tokens: int
    target_tokens: int        # output tokens produced before it finishes
    reason: str               # the finished_reason it will end with
    error: str | None
    itl_jitter: float         # this request's share of the step time (sampling params etc.)
    topic: str = "chat"
    drift: bool = False
    # progress, filled in by the replica
    waiting_since: float = 0.0
    queue_time: float = 0.0
    admitted_at: float | None = None
    admissions: int = 0
    prefill_end: float = 0.0
    prefill_time: float = 0.0
    first_token_at: float | None = None
    tokens_out: float = 0.0   # output tokens so far (fractional inside a step)
    reported_tokens: int = 0  # output tokens already counted in the metrics
    prompt_counted: bool = False
    preemptions: int = 0
    finished_at: float = 0.0
    first_admitted_at: float | None = None

    @property
    def trace_hex(self) -> str:
        return f"{self.trace_id:032x}"

    def span_hex(self, which: int) -> str:
        return f"{self.span_ids[which]:016x}"

    @property
    def generated(self) -> int:
        return int(self.tokens_out)

    @property
    def e2e(self) -> float:
        return self.finished_at - self.arrival

    @property
    def ttft(self) -> float | None:
        return None if self.first_token_at is None else self.first_token_at - self.arrival

    @property
    def failed(self) -> bool:
        return self.reason == "error"


def draw_request(rng: random.Random, replica: int, spec: ModelSpec, fx: ReplicaEffects,
                 arrival: float) -> Request:
    topic = rng.choices(TOPICS, DRIFTED_TOPIC_MIX if fx.drift else TOPIC_MIX)[0]
    # Long-context traffic comes from a RAG pipeline: long, but of a similar size.
    spread = 0.9 if fx.prompt_factor == 1.0 else 0.5
    prompt = int(lognormal(rng, spec.prompt_median * fx.prompt_factor, spread))
    prompt = max(4, min(prompt, spec.max_model_len - 64))
    room = spec.max_model_len - prompt
    max_tokens = min(rng.choice(_MAX_TOKENS_CHOICES), room)
    natural = max(1, int(lognormal(rng, spec.output_median * fx.output_factor, 0.8)))

    cached = 0
    if rng.random() < 0.6 * fx.cache_hit_factor:
        cached = min(rng.choice(_SHARED_PREFIXES), prompt - 1) // _BLOCK * _BLOCK

    error = None
    u = rng.random()
    p_error = _P_ERROR + fx.error_rate
    if u < p_error:
        reason = "error"
        # Most failures happen in prefill (nothing streamed); some after a few tokens.
        target = 0 if rng.random() < 0.7 else rng.randint(1, 24)
        error = rng.choice(ERROR_MESSAGES)
    elif u < p_error + _P_ABORT:
        reason = "abort"   # the client went away part-way
        target = max(1, int(min(natural, max_tokens) * rng.uniform(0.05, 0.9)))
    elif u < p_error + _P_ABORT + _P_REPETITION:
        reason = "repetition"
        target = min(natural, max_tokens)
    elif natural >= max_tokens:
        reason, target = "length", max_tokens
    else:
        reason, target = "stop", natural

    span_ids = tuple(nonzero_bits(rng, 64) for _ in range(5))
    return Request(
        replica=replica,
        model=spec.name,
        request_id=f"chatcmpl-{rng.getrandbits(128):032x}",
        trace_id=nonzero_bits(rng, 128),
        span_ids=span_ids,  # type: ignore[arg-type]
        arrival=arrival,
        prompt_tokens=prompt,
        cached_tokens=cached,
        max_tokens=max_tokens,
        target_tokens=target,
        reason=reason,
        error=error,
        itl_jitter=lognormal(rng, 1.0, 0.12),
        topic=topic,
        drift=fx.drift,
        waiting_since=arrival,
    )
