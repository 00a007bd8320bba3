"""A one-line key hint bar: the screen's shown bindings, drawn as one Static.

Textual's Footer builds a widget per key, which costs about 150 ms when a screen opens;
drill-down screens (trace list, waterfall, logs) must open fast, so they use this.
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import Static

from watchdeck.core.keys import display_keys


class KeyHints(Static):
    DEFAULT_CSS = """
    KeyHints { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    """

    def __init__(self, bindings: list[Binding], extra: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__("", markup=False)
        self._pairs = [(display_keys(b.key.split(",")[0]), b.description)
                       for b in bindings if b.show] + list(extra)

    def on_mount(self) -> None:
        key_style = f"bold {self.app.theme_variables.get('accent', 'yellow')}"
        text = Text(no_wrap=True, overflow="ellipsis")
        for key, description in self._pairs:
            text.append(key, style=key_style)
            text.append(f" {description}  ")
        self.update(text)
