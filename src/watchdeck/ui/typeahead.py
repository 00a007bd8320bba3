"""Text boxes opened by a key (``/`` filters, ``f`` finds), safe to type into at once.

A key event reaches the focused widget, then bubbles to the app, whose bindings run the
action that opens the box; each hop waits its turn in a queue. Keys that arrive in the same
burst (a fast typist, a slow SSH link batching keystrokes, ``tmux send-keys``) have by then
been handled by the focused widget as the panel's own keys: ``/error`` would jump to the
next error (``e``) instead of filtering for "error". And ``Widget.focus()`` itself waits in
the queue.

So the widget or screen that owns a box routes its keys through :func:`route_key` from its
``on_key``: a key bound to one of its box-opening actions runs that action at once, and
printable keys that arrive while its box is open but before the box had focus are typed
into the box. :func:`open_box` focuses at once and selects the box's text (so typing
replaces it); boxes are :class:`TextBox`: no selecting on focus (the focus event comes
later than such keys and would select them), and their own bindings run in turn.
"""

from __future__ import annotations

from collections.abc import Collection

from textual import events
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import Input
from textual.widgets.input import Selection


class TextBox(Input):
    """An ``Input`` that runs its own key bindings (ctrl+u, backspace, enter…) when the key
    reaches it, in turn with the text typed around them. A plain ``Input`` leaves them to
    bubble up to the app's bindings, and meanwhile types the keys that came after: a fast
    ctrl+u then text wipes the text. Its text is selected by :func:`open_box`, not on
    focus."""

    def __init__(self, value: str | None = None, placeholder: str = "", **kwargs: object
                 ) -> None:
        super().__init__(value, placeholder, select_on_focus=False, **kwargs)  # type: ignore[arg-type]

    async def on_key(self, event: events.Key) -> None:
        if event.is_printable:
            return  # typed in by Input itself
        active = self.app.active_bindings.get(event.key)
        if active is not None and active.node is self:
            event.stop()
            event.prevent_default()
            await self.run_action(active.binding.action)


def open_box(host: DOMNode, box: Input, value: str | None = None) -> None:
    """Show-ready ``box`` (its class is the caller's): focused now, its text selected."""
    if value is not None:
        box.value = value
    box.selection = Selection(0, len(box.value))
    focus_now(host, box)


def focus_now(host: DOMNode, widget: Widget) -> None:
    """Focus ``widget`` before the next key is handled."""
    host.screen.set_focus(widget, scroll_visible=False)


async def route_key(host: DOMNode, event: events.Key, box: Input | None,
                    actions: Collection[str]) -> bool:
    """For ``host.on_key``: True when the key was handled here (the event is stopped).

    While the box is open, every key that reaches the host is done here and now, in the
    order the keys came: a printable one is typed into the box, one the box binds (enter,
    backspace, ctrl+u…) runs the box's action. Left to bubble up to the app's bindings, a
    ctrl+u typed before some text would run after it and wipe it."""
    if box is None:
        active = host.app.active_bindings.get(event.key)
        if (active is None or active.node is not host
                or active.binding.action not in actions):
            return False
        event.stop()
        event.prevent_default()
        getattr(host, f"action_{active.binding.action}")()
        return True
    if event.is_printable and event.character is not None:
        event.stop()
        event.prevent_default()
        selection = box.selection
        if selection.is_empty:
            box.insert_text_at_cursor(event.character)
        else:
            box.replace(event.character, *selection)
        return True
    active = host.app.active_bindings.get(event.key)
    if active is None or active.node is not box:
        return False
    event.stop()
    event.prevent_default()
    await box.run_action(active.binding.action)
    return True


__all__ = ["TextBox", "focus_now", "open_box", "route_key"]
