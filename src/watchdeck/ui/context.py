"""What a dashboard's panels share: the hub, sources, the window and variable choices."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from watchdeck.core.config.files import LoadedConfig
from watchdeck.core.config.models import Layout, Variable
from watchdeck.core.sources.base import Source
from watchdeck.core.templating import VariableState
from watchdeck.core.timewin import TimeWindow
from watchdeck.ui.hub import Hub


@dataclass
class DashboardContext:
    hub: Hub
    config: LoadedConfig
    sources: dict[str, Source]
    layout: Layout
    window: TimeWindow
    states: dict[str, VariableState] = field(default_factory=dict)
    clock: Callable[[], float] = time.time

    @property
    def variables(self) -> dict[str, Variable]:
        return {variable.name: variable for variable in self.layout.variables}

    @property
    def max_series(self) -> int:
        return self.config.config.max_series

    def resolve_source(self, name: str) -> str | None:
        return self.config.resolve_source(name)

    def scrape_interval(self, source_name: str) -> float:
        return float(getattr(self.sources.get(source_name), "scrape_interval", 15.0))
