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

from watchdeck.demo.config import INCIDENT_KINDS, FleetConfig, ModelSpec
from watchdeck.demo.fleet import RULES_PATH, Fleet, Target
from watchdeck.demo.incidents import ALERTS_BY_INCIDENT, KNOCK_ON_ALERTS, Incident

__all__ = [
    "ALERTS_BY_INCIDENT", "INCIDENT_KINDS", "KNOCK_ON_ALERTS", "RULES_PATH", "Fleet",
    "FleetConfig", "Incident", "ModelSpec", "Target",
]
