"""Every key binding as data: one registry feeds the bindings, footer, help and palette.

Each binding has a stable ``id`` so that a ``keymap:`` section in the config can move it
(``keymap: {zoom: f}``). The UI builds Textual ``Binding`` objects from these records;
the config checker uses the ids to reject a keymap entry that names no binding.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeySpec:
    id: str
    keys: str  # Textual key names, comma separated
    action: str
    description: str
    scope: str  # "app", "dashboard" or a panel type
    show: bool = False  # in the footer
    palette: bool = True  # offered in the command palette


_LAYOUT_KEYS = tuple(
    KeySpec(f"layout-{d}", d, f"layout_key('{d}')", f"Layout {d}", "app", palette=False)
    for d in "123456789"
)

KEYS: tuple[KeySpec, ...] = (
    KeySpec("help", "question_mark", "help", "Help: keys", "app", show=True),
    KeySpec("quit", "q", "quit", "Quit", "app", show=True),
    KeySpec("refresh", "r", "refresh", "Refresh now", "app"),
    KeySpec("pause", "space", "toggle_pause", "Pause / resume live", "app", show=True),
    KeySpec("live", "0", "live", "Back to live", "app"),
    KeySpec("shift-back", "left_square_bracket", "shift(-0.5)", "Shift window back", "app"),
    KeySpec("shift-forward", "right_square_bracket", "shift(0.5)", "Shift window forward",
            "app"),
    KeySpec("zoom-out", "minus", "zoom_window(2.0)", "Zoom window out (longer)", "app"),
    KeySpec("zoom-in", "plus,equals_sign", "zoom_window(0.5)", "Zoom window in (shorter)",
            "app"),
    KeySpec("variables", "v", "variables", "Pick variable values", "app", show=True),
    *_LAYOUT_KEYS,
    KeySpec("focus-left", "left,h", "focus_direction('left')", "Focus panel left", "dashboard",
            palette=False),
    KeySpec("focus-right", "right,l", "focus_direction('right')", "Focus panel right",
            "dashboard", palette=False),
    KeySpec("focus-up", "up,k", "focus_direction('up')", "Focus panel above", "dashboard",
            palette=False),
    KeySpec("focus-down", "down,j", "focus_direction('down')", "Focus panel below",
            "dashboard", palette=False),
    KeySpec("focus-next", "tab", "focus_next", "Next panel", "dashboard", palette=False),
    KeySpec("focus-previous", "shift+tab", "focus_previous", "Previous panel", "dashboard",
            palette=False),
    KeySpec("zoom", "enter,z", "zoom_panel", "Zoom panel", "dashboard", show=True),
    KeySpec("unzoom", "escape", "unzoom_panel", "Back from zoom", "dashboard", palette=False),
    KeySpec("silences", "S", "silences", "Silences (Alertmanager)", "app"),
    KeySpec("panel-traces", "t", "app.panel_traces", "Traces for this panel's window",
            "dashboard", show=True),
    KeySpec("panel-logs", "L", "app.panel_logs", "Logs for this panel", "dashboard"),
    KeySpec("alert-open", "enter", "open_alert", "Open the alert", "alerts", palette=False),
    KeySpec("alert-silence", "s", "silence_alert", "Silence the alert", "alerts", show=True,
            palette=False),
    KeySpec("alert-filter", "slash", "filter_alerts", "Filter alerts by labels", "alerts",
            show=True, palette=False),
    KeySpec("alert-sort", "o", "sort_alerts", "Order by severity / age / name", "alerts",
            palette=False),
    KeySpec("table-sort", "o", "sort_next", "Sort by next column", "table", palette=False),
    KeySpec("logs-filter", "slash", "filter_logs", "Filter lines", "logs", show=True,
            palette=False),
    KeySpec("logs-search", "f", "search_logs", "Find (highlight; n / N jump)", "logs",
            show=True, palette=False),
    KeySpec("logs-next-match", "n", "next_match(True)", "Next match", "logs", palette=False),
    KeySpec("logs-previous-match", "N", "next_match(False)", "Previous match", "logs",
            palette=False),
    KeySpec("logs-next-error", "e", "next_error(True)", "Next error", "logs", show=True,
            palette=False),
    KeySpec("logs-previous-error", "E", "next_error(False)", "Previous error", "logs",
            palette=False),
    KeySpec("logs-follow", "G,end", "follow", "Follow new lines (to the end)", "logs",
            palette=False),
    KeySpec("logs-top", "g,home", "to_top", "To the oldest line", "logs", palette=False),
    KeySpec("logs-wrap", "w", "toggle_wrap", "Wrap long lines", "logs", palette=False),
    KeySpec("logs-fields", "c", "toggle_fields", "Fields: key=value / hidden", "logs",
            palette=False),
    KeySpec("logs-context", "x", "cycle_context", "Context lines around matches (0/3/10)",
            "logs", palette=False),
    KeySpec("logs-copy", "y", "copy_line", "Copy the line (OSC 52)", "logs", palette=False),
    KeySpec("logs-trace", "enter", "open_trace", "Open the line's trace", "logs",
            palette=False),
    KeySpec("table-sort-reverse", "O", "sort_reverse", "Reverse sort order", "table",
            palette=False),
)

KEY_IDS = frozenset(spec.id for spec in KEYS)


def by_scope(scope: str) -> list[KeySpec]:
    return [spec for spec in KEYS if spec.scope == scope]


_DISPLAY = {
    "question_mark": "?", "left_square_bracket": "[", "right_square_bracket": "]",
    "minus": "-", "plus": "+", "equals_sign": "=", "space": "space", "escape": "esc",
    "enter": "enter", "shift+tab": "shift+tab", "left": "←", "right": "→", "up": "↑",
    "down": "↓",
}


def display_keys(keys: str) -> str:
    """``left_square_bracket,h`` -> ``[ h`` for the help screen."""
    return " ".join(_DISPLAY.get(key.strip(), key.strip()) for key in keys.split(","))
