"""One-line key hint bars: a screen's shown bindings, drawn as one Static.

Textual's Footer builds a widget per key, which costs about 150 ms when a screen opens and
again on every focus change. ``KeyHints`` draws a fixed list (the drill-down screens: trace
list, waterfall, logs); ``LiveKeyHints`` follows the focus.
"""

from __future__ import annotations

from itertools import groupby

from rich.text import Text
from textual.binding import Binding
from textual.widget import Widget
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
        self.update(hint_text(self, [(key, text, True) for key, text in self._pairs]))


def hint_text(widget: Widget, hints: list[tuple[str, str, bool]]) -> Text:
    """(key, what it does, enabled) pairs as one line: keys in the accent colour, disabled
    ones dimmed."""
    variables = widget.app.theme_variables
    key_style = f"bold {variables.get('accent', 'yellow')}"
    dim = variables.get("foreground-muted", "grey50")
    text = Text(no_wrap=True, overflow="ellipsis")
    for key, description, enabled in hints:
        # (The space goes with the key: SVG export drops a run's leading spaces.)
        text.append(f"{key} ", style=key_style if enabled else dim)
        text.append(f"{description}  ", style="" if enabled else dim)
    return text


class LiveKeyHints(Static):
    """A key hint bar that follows the focus (dashboard, alert detail, silences): the
    focused widget's shown bindings and the screen's and app's, redrawn as one line when
    the focus or the bindings change.

    Textual's Footer draws the same, but rebuilds a widget per key on every focus change
    (opening a filter box, moving between panels): about 100 ms each time on a 2-core box,
    felt as a late first key after it."""

    DEFAULT_CSS = """
    LiveKeyHints { height: 1; background: $panel; color: $foreground; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__("", markup=False)
        # The hints, and the command palette's key (docked right), as last drawn.
        self._shown: tuple[list[tuple[str, str, bool]], str | None] | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: object) -> None:
        if not self.is_attached:
            return
        active = self.screen.active_bindings
        by_action: dict[str, list[tuple[Binding, bool]]] = {}
        for _node, binding, enabled, _tooltip in active.values():
            if binding.show:
                by_action.setdefault(binding.action, []).append((binding, enabled))
        shown: list[tuple[str, str, bool]] = []
        for group, members in groupby(by_action.values(), lambda m: m[0][0].group):
            firsts = [m[0] for m in members]
            if group is not None and len(firsts) > 1:
                keys = "/".join(self.app.get_key_display(b) for b, _ in firsts)
                shown.append((keys, group.description, any(e for _, e in firsts)))
            else:
                shown += [(self.app.get_key_display(b), b.description, e) for b, e in firsts]
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        palette_key = (self.app.get_key_display(palette.binding)
                       if self.app.ENABLE_COMMAND_PALETTE and palette is not None else None)
        if (shown, palette_key) != self._shown:
            self._shown = (shown, palette_key)
            self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        """The keys from the left, the command palette's docked right (the rest is cut
        with an ellipsis when the line is too short for all)."""
        shown, palette_key = self._shown or ([], None)
        text = hint_text(self, shown)
        width = self.content_size.width
        if palette_key is not None and width > 0:
            right = hint_text(self, [(palette_key, "palette", True)])
            right.rstrip()
            room = max(0, width - right.cell_len - 1)
            if text.cell_len > room:
                text.truncate(room, overflow="ellipsis")
            text.pad_right(width - text.cell_len - right.cell_len)
            text.append_text(right)
        self.update(text)
