"""Model and business signals, as an API gateway in front of the replicas would count them.

These names are invented for the demo (vLLM has no such metrics); they are documented in
``watchdeck/demo/README.md``. Everything is computed from the same finished requests
the replicas report, so cost follows tokens and satisfaction follows latency and errors.
"""

from __future__ import annotations

import math
import random
from collections import deque

from watchdeck.demo.config import ModelSpec
from watchdeck.demo.histogram import Exemplar, Histogram
from watchdeck.demo.workload import GATEWAY, TOPIC_MIX, TOPICS, Request

COST_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.99)
# Drift compares the topic mix of the last DRIFT_WINDOW requests with the reference
# mix. A count (not a time) window keeps the score's statistical noise the same at night
# and at the peak: about (topics - 1) / DRIFT_WINDOW = 0.025.
DRIFT_WINDOW = 200
DRIFT_FEATURE = "topic"
_FEEDBACK_SHARE = 0.12  # of answered requests, a user presses thumbs up or down
_SLOW = 20.0            # seconds after which users start to mind


def population_stability(counts: list[int], reference: tuple[float, ...]) -> float:
    """PSI of observed ``counts`` against ``reference`` shares, with half a count of
    smoothing so an empty category stays finite."""
    total = sum(counts)
    psi = 0.0
    for seen, expected in zip(counts, reference):
        actual = (seen + 0.5) / (total + 0.5 * len(counts))
        psi += (actual - expected) * math.log(actual / expected)
    return psi


class ModelSignals:
    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.cost = Histogram(COST_BUCKETS)
        self.confidence = Histogram(CONFIDENCE_BUCKETS)
        self.requests = {"200": 0, "499": 0, "500": 0}
        self.feedback = {"thumbs_up": 0, "thumbs_down": 0}
        self.drift_psi = 0.0
        self._recent: deque[int] = deque(maxlen=DRIFT_WINDOW)   # topic index per request
        self._counts = [0] * len(TOPICS)

    def add_topic(self, topic: str) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._counts[self._recent[0]] -= 1
        index = TOPICS.index(topic)
        self._recent.append(index)
        self._counts[index] += 1

    def update_drift(self) -> None:
        if len(self._recent) < DRIFT_WINDOW // 2:
            self.drift_psi = 0.0   # too few requests to say anything yet
        else:
            self.drift_psi = population_stability(self._counts, TOPIC_MIX)


class Gateway:
    def __init__(self, models: list[ModelSpec], rng: random.Random) -> None:
        self.models = {spec.name: ModelSignals(spec) for spec in models}
        self._rng = rng

    def observe(self, request: Request) -> None:
        signals = self.models[request.model]
        spec = signals.spec
        rng = self._rng

        def exemplar_of(value: float) -> Exemplar:
            return Exemplar(request.trace_hex, request.span_hex(GATEWAY), value,
                            request.finished_at)

        signals.add_topic(request.topic)
        # Prefill is billed even when the request then fails.
        cost = (request.prompt_tokens * spec.usd_per_m_input
                + request.generated * spec.usd_per_m_output) / 1e6
        signals.cost.observe(cost, 1, exemplar_of(cost))
        code = {"error": "500", "abort": "499"}.get(request.reason, "200")
        signals.requests[code] += 1
        if code != "200":
            if code == "500" and rng.random() < _FEEDBACK_SHARE:
                signals.feedback["thumbs_down"] += 1
            return
        # A drifted population gets answers the model is less sure of.
        mean = 0.70 if request.drift else 0.87
        confidence = min(0.999, max(0.05, rng.gauss(mean, 0.07)))
        signals.confidence.observe(confidence, 1, exemplar_of(confidence))
        if rng.random() < _FEEDBACK_SHARE:
            happy = 0.86
            if request.e2e > _SLOW:
                happy -= 0.35
            if request.drift:
                happy -= 0.4
            if request.reason in ("length", "repetition"):
                happy -= 0.2
            rating = "thumbs_up" if rng.random() < happy else "thumbs_down"
            signals.feedback[rating] += 1

    def step(self) -> None:
        for signals in self.models.values():
            signals.update_drift()
