"""Panel widgets, one module per type, all on :class:`~watchdeck.ui.panels.base.Panel`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from watchdeck.ui.context import DashboardContext
    from watchdeck.ui.panels.base import Panel


def make_panel(spec: object, context: DashboardContext) -> Panel:
    """The widget for one layout panel."""
    kind = getattr(spec, "type", None)
    if kind == "timeseries":
        from watchdeck.ui.panels.timeseries import TimeseriesPanel as cls
    elif kind == "stat":
        from watchdeck.ui.panels.stat import StatPanel as cls  # type: ignore[assignment]
    elif kind == "bars":
        from watchdeck.ui.panels.bars import BarsPanel as cls  # type: ignore[assignment]
    elif kind == "table":
        from watchdeck.ui.panels.table import TablePanel as cls  # type: ignore[assignment]
    elif kind == "alerts":
        from watchdeck.ui.panels.alerts import AlertsPanel as cls  # type: ignore[assignment]
    elif kind == "logs":
        from watchdeck.ui.panels.logs import LogsPanel as cls  # type: ignore[assignment]
    elif kind == "text":
        from watchdeck.ui.panels.text import TextPanel as cls  # type: ignore[assignment]
    else:
        raise ValueError(f"no widget for panel type {kind!r}")
    return cls(spec, context)
