"""One vLLM replica: a waiting queue, a running batch, a KV cache, and vLLM's metrics.

Within a simulation step the replica replays its events in time order (arrivals,
completions, and the admissions they allow), so queue times, TTFTs and latencies come
out continuous rather than rounded to the step. The step time per token is fixed for
the step and grows with the batch, which is what makes load show up as latency.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections import deque

from watchdeck.demo import buckets
from watchdeck.demo.config import ModelSpec
from watchdeck.demo.histogram import Exemplar, Histogram
from watchdeck.demo.incidents import ReplicaEffects
from watchdeck.demo.randomness import lognormal
from watchdeck.demo.workload import FINISH_REASONS, SERVER, Request

_ARRIVE, _FINISH = 0, 1
_ADMIT_WATERMARK = 0.99   # vLLM keeps 1 % of the KV blocks free when admitting
_PREFILL_OVERHEAD = 0.004  # seconds of scheduling and sampling around a prefill
CLIENT_TIMEOUT = 30.0      # clients give up on a request still queued after this long


class ReplicaMetrics:
    """vLLM V1's per-engine series for one replica (model_name and engine labels)."""

    def __init__(self, spec: ModelSpec) -> None:
        token_buckets = buckets.one_two_five(spec.max_model_len)
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.prefix_cache_queries = 0
        self.prefix_cache_hits = 0
        self.preemptions = 0
        self.success = dict.fromkeys(FINISH_REASONS, 0)
        self.e2e = Histogram(buckets.REQUEST_LATENCY)
        self.queue = Histogram(buckets.REQUEST_LATENCY)
        self.inference = Histogram(buckets.REQUEST_LATENCY)
        self.prefill = Histogram(buckets.REQUEST_LATENCY)
        self.decode = Histogram(buckets.REQUEST_LATENCY)
        self.ttft = Histogram(buckets.TIME_TO_FIRST_TOKEN)
        self.itl = Histogram(buckets.INTER_TOKEN_LATENCY)
        self.tpot = Histogram(buckets.INTER_TOKEN_LATENCY)
        self.request_prompt_tokens = Histogram(token_buckets)
        self.request_generation_tokens = Histogram(token_buckets)
        self.request_max_tokens = Histogram(token_buckets)
        self.request_preemptions = Histogram(buckets.REQUEST_NUM_PREEMPTIONS)


class Replica:
    def __init__(self, index: int, spec: ModelSpec, rng: random.Random) -> None:
        self.index = index
        self.spec = spec
        self._rng = rng
        self.waiting: deque[Request] = deque()
        self.running: list[Request] = []
        self.metrics = ReplicaMetrics(spec)
        self.step_time = spec.itl          # seconds per decode step, last simulated
        self.preempted: list[Request] = []  # preemptions of the last step, for the logs

    # -- gauges ---------------------------------------------------------------------------

    def kv_tokens(self) -> int:
        return sum(r.prompt_tokens + int(r.tokens_out) for r in self.running)

    @property
    def kv_usage(self) -> float:
        return min(1.0, self.kv_tokens() / self.spec.kv_capacity_tokens)

    # -- one step -------------------------------------------------------------------------

    def step(self, t0: float, t1: float, arrivals: list[Request], fx: ReplicaEffects
             ) -> list[Request]:
        """Advance from ``t0`` to ``t1``; return the requests that finished, in order."""
        self.preempted = []
        batch = len(self.running) / self.spec.max_num_seqs
        self.step_time = ((self.spec.itl * (1 + 1.2 * batch) * fx.slowdown + fx.step_stall)
                          * lognormal(self._rng, 1.0, 0.04))
        events: list[tuple[float, int, int, Request]] = []
        order = itertools.count()
        for request in self.running:
            self._schedule_finish(request, t0, t1, events, order)
        for request in arrivals:
            heapq.heappush(events, (request.arrival, next(order), _ARRIVE, request))

        finished: list[Request] = []
        while events:
            when, _, kind, request = heapq.heappop(events)
            if kind == _ARRIVE:
                self.waiting.append(request)
            else:
                self._finish(request, when)
                finished.append(request)
            self._admit(when, t1, fx, events, order)

        for request in self.running:
            self._progress(request, t0, t1)
        self._preempt_if_full(t1)
        # Clients time out; without this a backlog would outlive its incident by minutes.
        # (The queue is in arrival order: admission is first come, first served.)
        while self.waiting and t1 - self.waiting[0].arrival >= CLIENT_TIMEOUT:
            request = self.waiting.popleft()
            self._abandon(request, request.arrival + CLIENT_TIMEOUT)
            finished.append(request)
        return finished

    def _itl(self, request: Request) -> float:
        return self.step_time * request.itl_jitter

    def _decode_start(self, request: Request, t0: float) -> tuple[float, float]:
        """When decoding resumes in this step, and how many tokens are out by then (the
        first token comes out of the prefill)."""
        start = max(request.prefill_end, t0)
        done = max(request.tokens_out, float(min(1, request.target_tokens)))
        return start, done

    def _schedule_finish(self, request: Request, t0: float, t1: float,
                         events: list[tuple[float, int, int, Request]],
                         order: itertools.count) -> None:
        if request.prefill_end > t1:
            return
        start, done = self._decode_start(request, t0)
        finish = start + (request.target_tokens - done) * self._itl(request)
        if finish <= t1:
            heapq.heappush(events, (finish, next(order), _FINISH, request))

    def _admit(self, now: float, t1: float, fx: ReplicaEffects,
               events: list[tuple[float, int, int, Request]], order: itertools.count) -> None:
        spec = self.spec
        limit = max(1, int(spec.max_num_seqs * fx.capacity_factor))
        kv = self.kv_tokens()
        while self.waiting and len(self.running) < limit:
            request = self.waiting[0]
            context = request.prompt_tokens + int(request.tokens_out)
            if self.running and kv + context > spec.kv_capacity_tokens * _ADMIT_WATERMARK:
                break   # waits for KV space, as vLLM does
            self.waiting.popleft()
            kv += context
            # The request joins at the next engine step boundary.
            start = now + self._rng.uniform(0.0, self.step_time)
            request.queue_time += start - request.waiting_since
            request.admitted_at = start
            if request.first_admitted_at is None:
                request.first_admitted_at = start
            # A first admission reuses the shared prefix; after a preemption the KV
            # blocks are gone and everything is recomputed.
            cached = request.cached_tokens if request.admissions == 0 else 0
            request.admissions += 1
            self.metrics.prefix_cache_queries += context
            self.metrics.prefix_cache_hits += cached
            load = 1 + 0.3 * len(self.running) / spec.max_num_seqs
            prefill = ((context - cached) / spec.prefill_tokens_per_s * load * fx.slowdown
                       + _PREFILL_OVERHEAD)
            request.prefill_end = start + prefill
            request.prefill_time += prefill
            self.running.append(request)
            self._schedule_finish(request, now, t1, events, order)

    def _count_tokens(self, request: Request, tokens_out: float, stamp: float) -> None:
        """Move the metrics up to ``tokens_out`` whole output tokens of ``request``."""
        if request.first_token_at is None and request.target_tokens >= 1:
            request.first_token_at = request.prefill_end
        if not request.prompt_counted:
            request.prompt_counted = True
            self.metrics.prompt_tokens += request.prompt_tokens
        request.tokens_out = tokens_out
        whole = int(tokens_out)
        new = whole - request.reported_tokens
        if new <= 0:
            return
        self.metrics.generation_tokens += new
        # One inter-token latency per token after the first.
        gaps = max(0, whole - 1) - max(0, request.reported_tokens - 1)
        itl = self._itl(request)
        self.metrics.itl.observe(itl, gaps, self._exemplar(request, itl, stamp))
        request.reported_tokens = whole

    def _progress(self, request: Request, t0: float, t1: float) -> None:
        if request.prefill_end > t1:
            return
        start, done = self._decode_start(request, t0)
        produced = done + (t1 - start) / self._itl(request)
        self._count_tokens(request, min(produced, request.target_tokens - 1e-6), t1)

    def _finish(self, request: Request, when: float) -> None:
        self.running.remove(request)
        self._count_tokens(request, float(request.target_tokens), when)
        request.finished_at = when
        m = self.metrics
        m.success[request.reason] += 1
        e2e = request.e2e
        decode = when - request.first_token_at if request.first_token_at is not None else 0.0
        # Phase times are observed with the request's trace as exemplar, so a latency
        # bucket leads to the trace that landed in it.
        for histogram, value in (
            (m.e2e, e2e),
            (m.queue, request.queue_time),
            (m.prefill, request.prefill_time),
            (m.decode, decode),
            (m.inference, request.prefill_time + decode),
        ):
            histogram.observe(value, 1, self._exemplar(request, value, when))
        ttft = request.ttft
        if ttft is not None:
            m.ttft.observe(ttft, 1, self._exemplar(request, ttft, when))
        n = request.generated
        tpot = (e2e - ttft) / (n - 1) if ttft is not None and n > 1 else 0.0
        m.tpot.observe(tpot, 1, self._exemplar(request, tpot, when))
        m.request_prompt_tokens.observe(request.prompt_tokens)
        m.request_generation_tokens.observe(n)
        m.request_max_tokens.observe(request.max_tokens)
        m.request_preemptions.observe(request.preemptions)

    def _abandon(self, request: Request, when: float) -> None:
        """The client hung up while the request waited: vLLM aborts it."""
        request.reason = "abort"
        request.error = None
        request.queue_time += when - request.waiting_since
        request.target_tokens = request.generated
        request.finished_at = when
        m = self.metrics
        m.success["abort"] += 1
        for histogram, value in ((m.e2e, request.e2e), (m.queue, request.queue_time)):
            histogram.observe(value, 1, self._exemplar(request, value, when))
        m.request_prompt_tokens.observe(request.prompt_tokens)
        m.request_generation_tokens.observe(request.generated)
        m.request_max_tokens.observe(request.max_tokens)
        m.request_preemptions.observe(request.preemptions)

    def _preempt_if_full(self, now: float) -> None:
        # Decoding grows the KV cache; when it overflows, vLLM preempts the newest
        # request (recompute mode) and puts it back at the head of the queue.
        while len(self.running) > 1 and self.kv_tokens() > self.spec.kv_capacity_tokens:
            victim = max(self.running, key=lambda r: r.admitted_at or 0.0)
            self.running.remove(victim)
            victim.preemptions += 1
            victim.waiting_since = now
            victim.admitted_at = None
            self.metrics.preemptions += 1
            self.waiting.appendleft(victim)
            self.preempted.append(victim)

    @staticmethod
    def _exemplar(request: Request, value: float, stamp: float) -> Exemplar:
        return Exemplar(request.trace_hex, request.span_hex(SERVER), value, stamp)
