"""Seeded random streams: one per component, so that runs with the same seed repeat.

Each component (a replica, a GPU, the gateway, the incident schedule) draws from its own
stream, so adding a GPU does not change what the replicas do.
"""

from __future__ import annotations

import math
import random


def stream(seed: int, name: str) -> random.Random:
    # String seeds are hashed with SHA-512 by random.Random: stable across runs and
    # platforms, unlike hash().
    return random.Random(f"watchdeck-demo:{seed}:{name}")


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit = math.exp(-mean)
    count = 0
    product = rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


def nonzero_bits(rng: random.Random, bits: int) -> int:
    """An id of ``bits`` random bits that is never zero (zero ids are invalid in W3C
    trace context)."""
    while True:
        value = rng.getrandbits(bits)
        if value:
            return value
