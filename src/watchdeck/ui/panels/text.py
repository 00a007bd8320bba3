"""``text``: Markdown from the layout file (notes, runbook links)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Markdown

from watchdeck.core.config.models import TextPanel as TextSpec
from watchdeck.ui.panels.base import Panel


class TextPanel(Panel):
    DEFAULT_CSS = """
    TextPanel > Markdown { height: 1fr; margin: 0; padding: 0; background: transparent; }
    """
    spec: TextSpec

    def compose_body(self) -> ComposeResult:
        yield Markdown(self.spec.content)

    def badge(self) -> str:
        return ""
