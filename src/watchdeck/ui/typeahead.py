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

from collections.abc import Callable, Collection

from textual import events
from textual.dom import DOMNode
from textual.widget import Widget
from textual.widgets import Input
from textual.widgets.input import Selection


class TextBox(Input):
    """An ``Input`` whose keys keep their order with the keys around them.

    - Its own bindings (ctrl+u, backspace…) run when the key reaches it, in turn with the
      text typed around them; a plain ``Input`` leaves them to bubble up to the app's
      bindings and meanwhile types the keys that came after (ctrl+u then text: no text).
    - Enter and escape call the owner's ``on_submit`` / ``on_cancel`` (given to
      :func:`open_box`) at once, not through a message that would wait its turn behind the
      keys typed after them; those keys, if they still reach the box after the owner took
      the focus back, are handed on to it, in order, instead of being typed into a box
      that is closing.
    - Its text is selected by :func:`open_box`, not on focus.
    """

    def __init__(self, value: str | None = None, placeholder: str = "", **kwargs: object
                 ) -> None:
        super().__init__(value, placeholder, select_on_focus=False, **kwargs)  # type: ignore[arg-type]
        self.on_submit: Callable[[Input.Submitted], object] | None = None
        self.on_cancel: Callable[[], object] | None = None

    def finish(self, key: str) -> bool:
        """Enter or escape: the owner's callback, now. False when it has none."""
        if key == "enter" and self.on_submit is not None:
            self.on_submit(self.Submitted(self, self.value))
            return True
        if key == "escape" and self.on_cancel is not None:
            self.on_cancel()
            return True
        return False

    async def on_key(self, event: events.Key) -> None:
        screen = self.screen
        if screen.focused is not self:
            # Queued here before the focus moved on: it belongs to whoever has it now.
            event.stop()
            event.prevent_default()
            if screen.focused is not None:
                screen.focused.post_message(_handed_on(event.key, event.character))
            return
        if event.key in ("enter", "escape") and self.finish(event.key):
            event.stop()
            event.prevent_default()
            return
        if event.is_printable:
            return  # typed in by Input itself
        active = self.app.active_bindings.get(event.key)
        if active is not None and active.node is self:
            event.stop()
            event.prevent_default()
            await self.run_action(active.binding.action)


def _handed_on(key: str, character: str | None) -> events.Key:
    """A key for a widget, marked as the app marks the keys it hands to the focused widget
    (unmarked, the app would take it for a new key from the terminal when it bubbles up,
    and hand it to the focused widget a second time)."""
    handed = events.Key(key, character)
    handed._set_forwarded()  # noqa: SLF001 - Textual has no public way to say it
    return handed


def open_box(host: DOMNode, box: Input, value: str | None = None, *,
             on_submit: Callable[[Input.Submitted], object] | None = None,
             on_cancel: Callable[[], object] | None = None) -> None:
    """Show-ready ``box`` (its class is the caller's): focused now, its text selected;
    enter and escape in it call ``on_submit`` (with the submission) and ``on_cancel``."""
    if value is not None:
        box.value = value
    box.selection = Selection(0, len(box.value))
    if isinstance(box, TextBox):
        box.on_submit, box.on_cancel = on_submit, on_cancel
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
    if event.key in ("enter", "escape") and isinstance(box, TextBox) and box.finish(event.key):
        event.stop()
        event.prevent_default()
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
