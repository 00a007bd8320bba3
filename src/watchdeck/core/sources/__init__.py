"""Backend clients. Each returns model types and raises :mod:`watchdeck.core.errors`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchdeck.core.config.files import LoadedConfig
    from watchdeck.core.sources.base import Source


def build_source(name: str, config: object, base_dir: Path) -> Source:
    """A client for one configured source."""
    kind = getattr(config, "type", None)
    if kind == "prometheus":
        from watchdeck.core.sources.prometheus import PrometheusSource

        return PrometheusSource(name, config, base_dir)  # type: ignore[arg-type]
    if kind == "alertmanager":
        from watchdeck.core.sources.alertmanager import AlertmanagerSource

        return AlertmanagerSource(name, config, base_dir)  # type: ignore[arg-type]
    if kind == "scrape":
        from watchdeck.core.sources.scrape import ScrapeSource

        return ScrapeSource(name, config, base_dir)  # type: ignore[arg-type]
    if kind == "loki":
        from watchdeck.core.sources.loki import LokiSource

        return LokiSource(name, config, base_dir)  # type: ignore[arg-type]
    if kind == "file":
        from watchdeck.core.sources.logfile import FileLogSource

        return FileLogSource(name, config, base_dir)  # type: ignore[arg-type]
    if kind == "command":
        from watchdeck.core.sources.command import CommandLogSource

        return CommandLogSource(name, config, base_dir)  # type: ignore[arg-type]
    if kind == "websocket":
        from watchdeck.core.sources.websocket import WebSocketLogSource

        return WebSocketLogSource(name, config, base_dir)  # type: ignore[arg-type]
    if kind == "otlp":
        from watchdeck.core.sources.otlp import OTLPSource

        return OTLPSource(name, config, base_dir)  # type: ignore[arg-type]
    if kind == "jaeger":
        from watchdeck.core.sources.jaeger import JaegerSource

        return JaegerSource(name, config, base_dir)  # type: ignore[arg-type]
    if kind == "tempo":
        from watchdeck.core.sources.tempo import TempoSource

        return TempoSource(name, config, base_dir)  # type: ignore[arg-type]
    raise ValueError(f"source type {kind!r} is not supported")


def build_sources(loaded: LoadedConfig) -> dict[str, Source]:
    return {
        name: build_source(name, config, loaded.base_dir)
        for name, config in loaded.config.sources.items()
    }
