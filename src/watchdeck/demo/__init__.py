"""A synthetic LLM-serving fleet that speaks real protocols (``watchdeck demo``).

Replicas expose vLLM V1's metrics, a node exposes the DCGM exporter's, a gateway exposes
business signals; each simulated request also writes a JSON log line and, when asked
for, an OpenTelemetry trace with the same ids. See ``README.md`` beside this file.

    fleet = Fleet(FleetConfig(replicas=3, gpus=4, seed=42))
    await fleet.start()
    fleet.targets        # the /metrics URLs
    await fleet.stop()
"""

from __future__ import annotations

from typing import Any

from watchdeck.demo.config import INCIDENT_KINDS, FleetConfig, ModelSpec

# The fleet (aiohttp, prometheus_client) loads on first use: the command line builds its
# ``demo`` options from this package on every start of watchdeck.
_LAZY = {
    "Fleet": "watchdeck.demo.fleet", "RULES_PATH": "watchdeck.demo.fleet",
    "Target": "watchdeck.demo.fleet", "ALERTS_BY_INCIDENT": "watchdeck.demo.incidents",
    "KNOCK_ON_ALERTS": "watchdeck.demo.incidents", "Incident": "watchdeck.demo.incidents",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'watchdeck.demo' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


__all__ = [
    "ALERTS_BY_INCIDENT", "INCIDENT_KINDS", "KNOCK_ON_ALERTS", "RULES_PATH", "Fleet",
    "FleetConfig", "Incident", "ModelSpec", "Target",
]
