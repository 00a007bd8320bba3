"""The shape of a day of traffic, compressed, with slow noise on top."""

from __future__ import annotations

import math
import random

# The run starts mid-morning: load is climbing, so the first minutes already move.
_START_PHASE = 0.35
_NOISE_TAU = 30.0   # scenario seconds over which the slow noise wanders
_NOISE_SIGMA = 0.08


def daily_load(scenario_seconds: float, day_seconds: float) -> float:
    """Relative load in 0.2..1.0: a night trough, a morning ramp, a midday peak and an
    evening shoulder, one cycle per ``day_seconds``."""
    phase = (scenario_seconds / day_seconds + _START_PHASE) % 1.0
    angle = 2 * math.pi * phase
    # Two harmonics make the day lopsided (a quick morning rise, a long evening fall).
    value = 0.58 - 0.34 * math.cos(angle) - 0.08 * math.cos(2 * angle + 0.6)
    return min(1.0, max(0.2, value))


class SlowNoise:
    """A mean-reverting multiplicative wobble (an Ornstein-Uhlenbeck walk around 1)."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._level = 0.0

    def step(self, scenario_dt: float) -> float:
        keep = math.exp(-scenario_dt / _NOISE_TAU)
        spread = _NOISE_SIGMA * math.sqrt(1 - keep * keep)
        self._level = self._level * keep + self._rng.gauss(0.0, spread)
        return math.exp(self._level)
