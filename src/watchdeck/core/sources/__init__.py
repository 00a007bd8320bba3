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
    raise ValueError(f"source type {kind!r} is not supported")


def build_sources(loaded: LoadedConfig) -> dict[str, Source]:
    return {
        name: build_source(name, config, loaded.base_dir)
        for name, config in loaded.config.sources.items()
    }
