"""``table``: instant vectors as rows, label columns, one value column per query."""

from __future__ import annotations

import math
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable

from watchdeck.core.config.models import TablePanel as TableSpec
from watchdeck.core.model import QueryResult
from watchdeck.core.safe import sanitize
from watchdeck.core.shaping import Table, build_table
from watchdeck.core.units import format_value
from watchdeck.ui.panels.base import Panel


class TablePanel(Panel):
    DEFAULT_CSS = """
    TablePanel > DataTable { height: 1fr; }
    """
    DEFAULT_INSTANT = True
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "sort_next", "Sort column", id="table-sort"),
        Binding("O", "sort_reverse", "Reverse sort", id="table-sort-reverse"),
    ]
    spec: TableSpec

    def __init__(self, spec: TableSpec, context) -> None:  # type: ignore[no-untyped-def]
        super().__init__(spec, context)
        self.table: Table | None = None
        self.sort_column: str | None = spec.sort.by if spec.sort else None  # None: 1st value
        self.sort_desc = spec.sort.desc if spec.sort else True

    def compose_body(self) -> ComposeResult:
        table: DataTable[Text] = DataTable(cursor_type="none", zebra_stripes=True)
        table.can_focus = False
        yield table

    def draw(self, results: list[QueryResult | None]) -> None:
        table, dropped = build_table(results, self.legends(), self.spec.columns, self.max_series)
        self.table = table
        self._fill()
        self.set_note(
            f"{dropped} more rows not shown (max_series {self.max_series})" if dropped else None
        )

    @property
    def all_columns(self) -> list[str]:
        if self.table is None:
            return []
        return [*self.table.columns, *self.table.value_columns]

    @property
    def effective_sort_column(self) -> str | None:
        """The column rows are sorted by: the chosen one, else the first value column."""
        if self.sort_column in self.all_columns:
            return self.sort_column
        if self.table is not None and self.table.value_columns:
            return self.table.value_columns[0]
        return None

    def _sorted_rows(self) -> list[tuple[tuple[str, ...], tuple[float | None, ...]]]:
        """Rows by the sort column; rows without a value there always come last."""
        assert self.table is not None
        columns = self.all_columns
        by = self.effective_sort_column
        if by is None:
            return list(self.table.rows)
        index = columns.index(by)
        labels = len(self.table.columns)
        if index < labels:
            return sorted(self.table.rows, key=lambda row: row[0][index], reverse=self.sort_desc)

        def value(row: tuple[tuple[str, ...], tuple[float | None, ...]]) -> float | None:
            found = row[1][index - labels]
            return found if found is not None and math.isfinite(found) else None

        present = [row for row in self.table.rows if value(row) is not None]
        missing = [row for row in self.table.rows if value(row) is None]
        present.sort(key=lambda row: value(row) or 0.0, reverse=self.sort_desc)
        return present + missing

    def _fill(self) -> None:
        widget: DataTable[Text] = self.query_one(DataTable)
        if self.table is None:
            return
        columns = self.all_columns
        headers = [self._header(c) for c in columns]
        if [str(c.label) for c in widget.columns.values()] != [str(h) for h in headers]:
            widget.clear(columns=True)
            widget.add_columns(*headers)
        else:
            widget.clear()
        for label_values, values in self._sorted_rows():
            cells = [Text(sanitize(v)) for v in label_values]
            for value in values:
                cells.append(Text(format_value(value, self.spec.unit, self.spec.decimals),
                                  style=self.threshold_colour(value) or "", justify="right"))
            widget.add_row(*cells)

    def _header(self, column: str) -> Text:
        arrow = ""
        if column == self.effective_sort_column:
            arrow = " ▼" if self.sort_desc else " ▲"
        return Text(sanitize(column) + arrow, style="bold")

    def action_sort_next(self) -> None:
        columns = self.all_columns
        if not columns:
            return
        by = self.effective_sort_column
        current = columns.index(by) if by in columns else -1
        self.sort_column = columns[(current + 1) % len(columns)]
        self._fill()

    def action_sort_reverse(self) -> None:
        self.sort_desc = not self.sort_desc
        self._fill()
