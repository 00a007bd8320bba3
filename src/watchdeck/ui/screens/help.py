"""The help screen, generated from the live bindings (so a keymap shows as remapped)."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from watchdeck.core.keys import KEYS, display_keys

_SCOPES = (
    ("app", "Everywhere"),
    ("dashboard", "Dashboard"),
    ("alerts", "Alerts panel"),
    ("table", "Table panel"),
)


def help_table(keymap: dict[str, str]) -> Table:
    """All bindings by scope with their current keys."""
    table = Table.grid(padding=(0, 2))
    table.add_column(justify="right", style="bold")
    table.add_column()
    for scope, title in _SCOPES:
        table.add_row(Text(title, style="underline"), "")
        for spec in KEYS:
            if spec.scope != scope or spec.id.startswith("layout-"):
                continue
            keys = keymap.get(spec.id, spec.keys)
            table.add_row(display_keys(keys), spec.description)
        if scope == "app":
            table.add_row("1 … 9", "Switch layout")
            table.add_row("ctrl+p", "Command palette (layouts, themes, actions)")
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 76; max-width: 95%; height: auto; max-height: 90%;
        border: round $accent; background: $surface; padding: 0 2;
    }
    HelpScreen Static { width: 100%; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help-close"),
    ]

    def __init__(self, keymap: dict[str, str], layouts: list[tuple[str, str]]) -> None:
        super().__init__()
        self.keymap = keymap
        self.layouts = layouts

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "watchdeck keys"
            layouts = Table.grid(padding=(0, 2))
            layouts.add_column(justify="right", style="bold")
            layouts.add_column()
            layouts.add_row(Text("Layouts", style="underline"), "")
            for key, title in self.layouts:
                layouts.add_row(key, Text(title))
            layouts.add_row("", "")
            yield Static(layouts)
            yield Static(help_table(self.keymap))

    def action_dismiss(self) -> None:  # type: ignore[override]
        self.dismiss(None)
