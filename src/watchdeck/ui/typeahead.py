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

    async def take(self, event: events.Key, *, typed_here: bool) -> bool:
        """Do ``event`` now, in turn: enter and escape call the owner back, a printable key
        is typed in (unless ``typed_here``: Input types those it gets itself), a key this
        box binds runs its action. True when done (the event is then stopped)."""
        if event.key == "enter" and self.on_submit is not None:
            done = self.on_submit
            self._stop(event)
            done(self.Submitted(self, self.value))
            return True
        if event.key == "escape" and self.on_cancel is not None:
            self._stop(event)
            self.on_cancel()
            return True
        if event.is_printable and event.character is not None:
            if typed_here:
                return False
            self._stop(event)
            selection = self.selection
            if selection.is_empty:
                self.insert_text_at_cursor(event.character)
            else:
                self.replace(event.character, *selection)
            return True
        active = self.app.active_bindings.get(event.key)
        if active is None or active.node is not self:
            return False
        self._stop(event)
        await self.run_action(active.binding.action)
        return True

    @staticmethod
    def _stop(event: events.Key) -> None:
        event.stop()
        event.prevent_default()

    async def on_key(self, event: events.Key) -> None:
        screen = self.screen
        if screen.focused is not self:
            # Queued here before the focus moved on: it belongs to whoever has it now.
            self._stop(event)
            if screen.focused is not None:
                screen.focused.post_message(_handed_on(event.key, event.character))
            return
        await self.take(event, typed_here=True)


def _handed_on(key: str, character: str | None) -> events.Key:
    """A key for a widget, marked as the app marks the keys it hands to the focused widget
    (unmarked, the app would take it for a new key from the terminal when it bubbles up,
    and hand it to the focused widget a second time)."""
    handed = events.Key(key, character)
    handed._set_forwarded()  # noqa: SLF001 - Textual has no public way to say it
    return handed


def open_box(host: DOMNode, box: TextBox, value: str | None = None, *,
             on_submit: Callable[[Input.Submitted], object],
             on_cancel: Callable[[], object]) -> None:
    """Show-ready ``box`` (its class is the caller's): focused now, its text selected;
    enter and escape in it call ``on_submit`` (with the submission) and ``on_cancel``."""
    if value is not None:
        box.value = value
    box.selection = Selection(0, len(box.value))
    box.on_submit, box.on_cancel = on_submit, on_cancel
    focus_now(host, box)


def focus_now(host: DOMNode, widget: Widget) -> None:
    """Focus ``widget`` before the next key is handled."""
    host.screen.set_focus(widget, scroll_visible=False)


async def route_key(host: DOMNode, event: events.Key, box: TextBox | None,
                    actions: Collection[str]) -> bool:
    """For ``host.on_key``: True when the key was handled here (the event is stopped).

    With no box open, a key bound to one of ``actions`` (those that open a box) runs it
    now. While the box is open, every key that reaches the host is the box's, done now, in
    the order the keys came (:meth:`TextBox.take`): left to bubble up to the app's
    bindings, a ctrl+u typed before some text would run after it and wipe it."""
    if box is not None:
        return await box.take(event, typed_here=False)
    active = host.app.active_bindings.get(event.key)
    if (active is None or active.node is not host
            or active.binding.action not in actions):
        return False
    event.stop()
    event.prevent_default()
    getattr(host, f"action_{active.binding.action}")()
    return True


__all__ = ["TextBox", "focus_now", "open_box", "route_key"]
