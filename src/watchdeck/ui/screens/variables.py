"""Picking layout variable values: choose the variable, then its value(s) or "all"."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, SelectionList, Static
from textual.widgets.option_list import Option
from textual.widgets.selection_list import Selection

from watchdeck.core.config.models import Variable
from watchdeck.core.safe import sanitize
from watchdeck.core.templating import VariableState

ALL = "\x00all"


class ChooseVariable(ModalScreen[str | None]):
    """Which variable to set, when a layout has several."""

    DEFAULT_CSS = """
    ChooseVariable { align: center middle; }
    ChooseVariable > OptionList { width: 60; max-height: 80%; border: round $accent; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="variables-cancel"),
    ]

    def __init__(self, variables: list[Variable], states: dict[str, VariableState]) -> None:
        super().__init__()
        self.variables = variables
        self.states = states

    def compose(self) -> ComposeResult:
        def line(variable: Variable) -> Text:
            state = self.states.get(variable.name, VariableState())
            return Text(f"{variable.label or variable.name} = {state.describe()}")

        options = OptionList(*[Option(line(v), id=v.name) for v in self.variables])
        options.border_title = "Variables"
        yield options

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickValues(ModalScreen[VariableState | None]):
    """Values for one variable; ``enter`` applies, ``esc`` cancels, typing filters."""

    DEFAULT_CSS = """
    PickValues { align: center middle; }
    PickValues > Vertical {
        width: 70; height: auto; max-height: 85%; border: round $accent; background: $surface;
    }
    PickValues SelectionList, PickValues OptionList { height: auto; max-height: 24; }
    PickValues .hint { color: $foreground 60%; height: auto; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="pick-cancel"),
        Binding("enter", "apply", "Apply", id="pick-apply", priority=True),
    ]

    def __init__(self, variable: Variable, choices: list[str], state: VariableState,
                 error: str | None = None) -> None:
        super().__init__()
        self.variable = variable
        self.choices = sorted(set(choices) | set(state.values))
        self.state = state
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = f"{self.variable.label or self.variable.name}"
            yield Input(placeholder="filter…", id="pick-filter")
            if self.variable.multi:
                yield SelectionList[str](*self._selections(""), id="pick-values")
            else:
                yield OptionList(*self._options(""), id="pick-values")
            hint = "space: select · enter: apply · esc: cancel" if self.variable.multi else (
                "↑↓ choose · enter: apply · esc: cancel")
            if self.error:
                hint = f"could not load values: {sanitize(self.error, 200)}\n{hint}"
            yield Static(Text(hint), classes="hint")

    def _visible(self, needle: str) -> list[str]:
        needle = needle.lower()
        return [c for c in self.choices if needle in c.lower()]

    def _selections(self, needle: str) -> list[Selection[str]]:
        items = []
        if self.variable.include_all:
            items.append(Selection(Text("All"), ALL, self.state.is_all))
        items += [
            Selection(Text(sanitize(c)), c, (not self.state.is_all) and c in self.state.values)
            for c in self._visible(needle)
        ]
        return items

    def _options(self, needle: str) -> list[Option]:
        items = []
        if self.variable.include_all:
            items.append(Option(Text("All"), id=ALL))
        items += [Option(Text(sanitize(c)), id=c) for c in self._visible(needle)]
        return items

    @on(Input.Changed, "#pick-filter")
    def _filter(self, event: Input.Changed) -> None:
        widget = self.query_one("#pick-values")
        if isinstance(widget, SelectionList):
            chosen = set(widget.selected)
            widget.clear_options()
            for selection in self._selections(event.value):
                widget.add_option(Selection(selection.prompt, selection.value,
                                            selection.value in chosen or selection.initial_state))
        elif isinstance(widget, OptionList):
            widget.clear_options()
            widget.add_options(self._options(event.value))
            widget.highlighted = 0 if widget.option_count else None

    def on_mount(self) -> None:
        widget = self.query_one("#pick-values")
        widget.focus()
        if isinstance(widget, OptionList) and widget.option_count:
            current = None if self.state.is_all else (self.state.values or (None,))[0]
            for index in range(widget.option_count):
                option = widget.get_option_at_index(index)
                if option.id == (ALL if self.state.is_all else current):
                    widget.highlighted = index
                    break
            else:
                widget.highlighted = 0

    def on_key(self, event) -> None:  # type: ignore[no-untyped-def]
        """Printable keys go to the filter so the user can just type."""
        filter_input = self.query_one("#pick-filter", Input)
        if event.is_printable and event.character not in (" ",) and not filter_input.has_focus:
            filter_input.focus()
            filter_input.insert_text_at_cursor(event.character)
            event.stop()

    @on(OptionList.OptionSelected, "#pick-values")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        widget = self.query_one("#pick-values")
        if isinstance(widget, SelectionList):
            chosen = list(widget.selected)
            if ALL in chosen or not chosen:
                self.dismiss(VariableState(is_all=True))
            else:
                self.dismiss(VariableState(tuple(sorted(chosen))))
        elif isinstance(widget, OptionList):
            index = widget.highlighted
            if index is None:
                self.dismiss(None)
                return
            option_id = widget.get_option_at_index(index).id
            if option_id == ALL:
                self.dismiss(VariableState(is_all=True))
            else:
                self.dismiss(VariableState((str(option_id),)))

    def action_cancel(self) -> None:
        self.dismiss(None)
