"""The waterfall's model, without a screen: one trace's spans as a tree laid out in rows.

:meth:`TraceTree.build` links spans to their parents and lays the tree out depth first in
one flat list of rows (roots by start, children by start then arrival). A row's subtree is
the rows right after it (``subtree_size`` of them), so collapsing skips a range and the
visible rows come from a walk over the collapsed rows alone, never a rebuild.

Bad traces are drawn, marked, never refused (:class:`RowFlag`):

* a span whose parent is not in the trace is an extra root, ``ORPHAN``, with the missing id;
* a loop of parents (``a -> b -> a``, a span its own parent) is cut at its earliest span,
  which becomes a root; every span of the loop is marked ``CYCLE``;
* a span id seen twice keeps both spans; the later arrival (``seq``, then list position)
  is ``DUPLICATE`` and children attach to the first;
* a child that starts before its parent or ends after it is ``SKEWED``; an end before the
  start is ``BAD_TIMES`` and the span is drawn with zero length.

Clock skew: with ``adjust_skew`` (the default), a skewed child on another clock (another
service or ``host.name``) that could fit in its parent is shifted, with its subtree, to sit
centred in the parent (equal network delay each way), and marked ``SHIFTED``. Children on
the parent's own clock and messaging spans (a ``PRODUCER`` parent, a ``CONSUMER`` child)
are left alone: running outside the parent is real for them. Shifted times are used for
drawing, the critical path, self times and bounds; the spans keep their raw times, and the
summary uses only those.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from enum import IntFlag
from typing import Literal

from watchdeck.core.otlp.spans import Span, SpanKind, StatusCode, TraceSummary
from watchdeck.core.traces.source import no_parent, summarize

SlowMeasure = Literal["self", "duration"]


class RowFlag(IntFlag):
    """What is notable about one row's span."""

    NONE = 0
    ERROR = 1
    ORPHAN = 2
    CYCLE = 4
    DUPLICATE = 8
    SKEWED = 16
    SHIFTED = 32
    BAD_TIMES = 64


# The flags as plain ints, for building (IntFlag arithmetic is slow in bulk).
_ERROR, _ORPHAN, _CYCLE, _DUPLICATE, _SKEWED, _SHIFTED, _BAD_TIMES = (
    int(f) for f in (RowFlag.ERROR, RowFlag.ORPHAN, RowFlag.CYCLE, RowFlag.DUPLICATE,
                     RowFlag.SKEWED, RowFlag.SHIFTED, RowFlag.BAD_TIMES))


@dataclass(frozen=True, slots=True)
class Row:
    """One row of the waterfall. ``start_ns``/``end_ns`` are the drawn times (skew shift
    applied; ``span`` has the raw ones). ``parent`` is the parent's row, -1 for a root.
    ``detached_parent_id`` is the parent id that was not followed: the missing one of an
    orphan, the cut one of a loop."""

    index: int
    depth: int
    span: Span
    flags: RowFlag
    has_children: bool
    collapsed: bool
    parent: int
    detached_parent_id: str | None
    start_ns: int
    end_ns: int





def _same_clock(a: Span, b: Span) -> bool:
    if a.service != b.service:
        return False
    host_a = a.resource.get("host.name") if a.resource else None
    host_b = b.resource.get("host.name") if b.resource else None
    return host_a == host_b


class TraceTree:
    """One trace laid out as rows; every index here is a row index and ``spans[row]`` is
    that row's span. Build with :meth:`build`. The collapse state lives here and changes;
    everything else is fixed at build (what is slow to work out, on first use)."""

    def __init__(self, spans: list[Span], depth: list[int], parent: list[int],
                 size: list[int], flags: list[int], start: list[int], end: list[int],
                 detached: dict[int, str]) -> None:
        self.spans = spans
        self._depth = depth
        self._parent = parent
        self._size = size
        self._flags = flags
        self._start = start
        self._end = end
        self._detached = detached
        self._collapsed: set[int] = set()
        self._visible: tuple[int, ...] | None = None
        # Each id's one span not marked DUPLICATE: the one its children hang from.
        self._row_of = {s.span_id: row for row, s in enumerate(spans)
                        if not flags[row] & _DUPLICATE}
        self.start_ns = min(start, default=0)
        self.end_ns = max(end, default=0)
        names = [s.service for s in spans]
        self.services: tuple[str, ...] = tuple(dict.fromkeys(names))
        index = {name: i for i, name in enumerate(self.services)}
        self._service = list(map(index.__getitem__, names))
        self._self_ns: list[int] | None = None
        self._critical: dict[int, int] | None = None
        self._haystacks: list[str] | None = None
        self._slow: dict[tuple[float, str], list[int]] = {}
        self._errors = [row for row, f in enumerate(flags) if f & _ERROR]

    # -- building --------------------------------------------------------------------------

    @classmethod
    def build(cls, spans: list[Span], *, adjust_skew: bool = True) -> TraceTree:
        """Link ``spans`` (one trace, any order) into a tree and lay it out; O(n log n)."""
        n = len(spans)
        error = StatusCode.ERROR
        flags = [_ERROR if s.status is error else 0 for s in spans]
        seqs = [s.seq for s in spans]
        first: dict[str, int] = {}
        # Arrival order: by seq, ties by list position (the sort is stable).
        for i in sorted(range(n), key=seqs.__getitem__):
            if first.setdefault(spans[i].span_id, i) != i:
                flags[i] |= _DUPLICATE

        parent = [-1] * n
        detached: dict[int, str] = {}
        for i, span in enumerate(spans):
            pid = span.parent_span_id
            if not pid:
                continue
            p = first.get(pid, -1)
            if p >= 0:
                parent[i] = p
            elif not no_parent(pid):
                flags[i] |= _ORPHAN
                detached[i] = pid
        _break_cycles(spans, parent, flags, detached)

        start = [s.start_ns for s in spans]
        end = [s.end_ns for s in spans]
        for i in range(n):
            if end[i] < start[i]:
                end[i] = start[i]
                flags[i] |= _BAD_TIMES
        children: list[list[int]] = [[] for _ in range(n)]
        roots: list[int] = []
        for i, p in enumerate(parent):
            (children[p] if p >= 0 else roots).append(i)
        shift = _mark_skew(spans, children, roots, flags, start, end, adjust_skew)
        if shift is not None:
            start = [a + b for a, b in zip(start, shift)]
            end = [a + b for a, b in zip(end, shift)]

        # One sort of every span by drawn start; handing them out in that order leaves every
        # child list (and the roots) sorted.
        roots = []
        for kids in children:
            kids.clear()
        for _, _, i in sorted(zip(start, seqs, range(n))):
            p = parent[i]
            (children[p] if p >= 0 else roots).append(i)

        order: list[int] = []
        stack = roots[::-1]
        while stack:
            i = stack.pop()
            order.append(i)
            kids = children[i]
            if kids:
                stack.extend(reversed(kids))

        row_of = [0] * n
        for row, i in enumerate(order):
            row_of[i] = row
        parent_row = [row_of[parent[i]] if parent[i] >= 0 else -1 for i in order]
        depth = [0] * n
        for row, p in enumerate(parent_row):
            if p >= 0:
                depth[row] = depth[p] + 1
        size = [1] * n
        for row in range(n - 1, 0, -1):
            p = parent_row[row]
            if p >= 0:
                size[p] += size[row]
        return cls(
            spans=[spans[i] for i in order], depth=depth, parent=parent_row, size=size,
            flags=[flags[i] for i in order], start=[start[i] for i in order],
            end=[end[i] for i in order],
            detached={row_of[i]: pid for i, pid in detached.items()})

    # -- rows --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.spans)

    def row(self, index: int) -> Row:
        return Row(index=index, depth=self._depth[index], span=self.spans[index],
                   flags=RowFlag(self._flags[index]), has_children=self._size[index] > 1,
                   collapsed=index in self._collapsed, parent=self._parent[index],
                   detached_parent_id=self._detached.get(index),
                   start_ns=self._start[index], end_ns=self._end[index])

    def rows(self) -> list[Row]:
        """Every row, depth first (hidden ones too)."""
        return [self.row(i) for i in range(len(self.spans))]

    def depth(self, row: int) -> int:
        return self._depth[row]

    def flags(self, row: int) -> RowFlag:
        return RowFlag(self._flags[row])

    def parent(self, row: int) -> int:
        return self._parent[row]

    def subtree_size(self, row: int) -> int:
        """Rows in ``row``'s subtree, itself included: they are ``row`` onwards."""
        return self._size[row]

    def children(self, row: int) -> list[int]:
        out = []
        child, stop = row + 1, row + self._size[row]
        while child < stop:
            out.append(child)
            child += self._size[child]
        return out

    @property
    def roots(self) -> list[int]:
        """The root rows (real roots, orphans and cut loops), by start."""
        out, row = [], 0
        while row < len(self.spans):
            out.append(row)
            row += self._size[row]
        return out

    def shown_times(self, row: int) -> tuple[int, int]:
        """The drawn start and end (skew shift applied, end never before start)."""
        return self._start[row], self._end[row]

    def row_of(self, span_id: str) -> int | None:
        """The row of the span with this id; of a duplicated id, the span not marked
        ``DUPLICATE`` (the one its children hang from)."""
        return self._row_of.get(span_id)

    def service_index(self, row: int) -> int:
        """The row's service's position in :attr:`services` (first appearance, top down):
        a stable index into the theme's series colours."""
        return self._service[row]

    @property
    def primary_root(self) -> int | None:
        """The earliest root that has no parent id at all, else the earliest root."""
        roots = self.roots
        for row in roots:
            if not self._flags[row] & (_ORPHAN | _CYCLE):
                return row
        return roots[0] if roots else None

    # -- collapsing --------------------------------------------------------------------------

    def _resolve(self, target: int | str) -> int | None:
        if isinstance(target, str):
            return self._row_of.get(target)
        return target if 0 <= target < len(self.spans) else None

    def is_collapsed(self, row: int) -> bool:
        return row in self._collapsed

    def collapse(self, target: int | str) -> bool:
        """Hide the subtree of a row (or of a span id); False when nothing changed."""
        row = self._resolve(target)
        if row is None or self._size[row] <= 1 or row in self._collapsed:
            return False
        self._collapsed.add(row)
        self._visible = None
        return True

    def expand(self, target: int | str) -> bool:
        row = self._resolve(target)
        if row is None or row not in self._collapsed:
            return False
        self._collapsed.discard(row)
        self._visible = None
        return True

    def toggle(self, target: int | str) -> bool:
        row = self._resolve(target)
        if row is None:
            return False
        return self.expand(row) if row in self._collapsed else self.collapse(row)

    def collapse_all_below(self, depth: int) -> None:
        """Show rows down to ``depth`` (0: the roots alone): every row at that depth or
        deeper with children is collapsed, every shallower one expanded."""
        d, size = self._depth, self._size
        self._collapsed = {r for r in range(len(d)) if d[r] >= depth and size[r] > 1}
        self._visible = None

    def expand_all(self) -> None:
        self._collapsed.clear()
        self._visible = None

    def reveal(self, row: int) -> bool:
        """Expand every ancestor of ``row`` so that it shows; False when it already did."""
        changed = False
        p = self._parent[row]
        while p >= 0:
            if p in self._collapsed:
                self._collapsed.discard(p)
                changed = True
            p = self._parent[p]
        if changed:
            self._visible = None
        return changed

    def visible_rows(self) -> tuple[int, ...]:
        """The rows that show, in order (ascending). Cached until the collapse state
        changes; O(collapsed log collapsed + visible), the copying done in C."""
        if self._visible is None:
            out: list[int] = []
            size, row = self._size, 0
            for c in sorted(self._collapsed):
                if c < row:
                    continue  # inside a subtree already hidden
                out.extend(range(row, c + 1))
                row = c + size[c]
            out.extend(range(row, len(size)))
            self._visible = tuple(out)
        return self._visible

    def visible_position(self, row: int) -> int:
        """Where ``row`` (or, when it is hidden, the collapsed ancestor hiding it) is in
        :meth:`visible_rows`: keeps the cursor on the right line after a collapse."""
        shown = self.visible_rows()
        return max(0, bisect_right(shown, row) - 1)

    # -- time axis ---------------------------------------------------------------------------

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def bar(self, row: int, width: int, subcells: int = 1) -> tuple[int, int]:
        """``row``'s bar on an axis of ``width`` cells spanning the trace, as half-open
        ``[start, end)`` in units of 1/``subcells`` of a cell (8 for eighth blocks). Every
        bar is at least one unit long and inside ``[0, width * subcells]``; in a trace of
        zero length every bar is the first unit."""
        if width < 1 or subcells < 1:
            raise ValueError("width and subcells must be at least 1")
        units, total, t0 = width * subcells, self.end_ns - self.start_ns, self.start_ns
        if total <= 0:
            return 0, 1
        a = min((self._start[row] - t0) * units // total, units - 1)
        b = -((t0 - self._end[row]) * units // total)  # ceiling
        return a, min(max(b, a + 1), units)

    def column(self, time_ns: int, width: int, subcells: int = 1) -> int:
        """The unit (of ``width * subcells``) a moment falls in, clamped: for event marks
        and axis ticks."""
        units, total = width * subcells, self.end_ns - self.start_ns
        if total <= 0:
            return 0
        return max(0, min(units - 1, (time_ns - self.start_ns) * units // total))

    # -- latency -----------------------------------------------------------------------------

    def self_time(self, row: int) -> int:
        """Time the span spent outside all of its children (drawn times), in ns."""
        if self._self_ns is None:
            self._self_ns = self._compute_self_times()
        return self._self_ns[row]

    def _compute_self_times(self) -> list[int]:
        start, end, size = self._start, self._end, self._size
        out = [e - s for s, e in zip(start, end)]
        for row in range(len(size)):
            if size[row] <= 1:
                continue
            lo, hi = start[row], end[row]
            covered, run_s, run_e = 0, lo, lo
            child, stop = row + 1, row + size[row]
            while child < stop:  # children come by start: one sweep merges them
                cs, ce = max(start[child], lo), min(end[child], hi)
                if ce > cs:
                    if cs > run_e:
                        covered += run_e - run_s
                        run_s, run_e = cs, ce
                    elif ce > run_e:
                        run_e = ce
                child += size[child]
            out[row] -= covered + run_e - run_s
        return out

    def critical_path(self) -> dict[int, int]:
        """The rows on the primary root's critical path, each with the ns it was the
        critical span for (they add up to the root's duration).

        From the root's end, walk back: take the child that finished last before that
        point, follow it down the same way, move the point to its start, repeat until the
        parent's start. Children are clipped to start no earlier than their parent; a
        child that ends after its parent (async, fire and forget) did not hold it up and is
        passed over, as are overlapped children and ones of zero length."""
        if self._critical is None:
            self._critical = self._compute_critical()
        return self._critical

    def _compute_critical(self) -> dict[int, int]:
        root = self.primary_root
        if root is None:
            return {}
        start, end, size = self._start, self._end, self._size
        out: dict[int, int] = {}
        work = [(root, start[root], end[root])]
        while work:
            row, lo, hi = work.pop()
            candidates = []
            child, stop = row + 1, row + size[row]
            while child < stop:
                cs, ce = max(start[child], lo), end[child]
                if cs < ce <= hi:
                    candidates.append((-ce, cs, child))
                child += size[child]
            candidates.sort()
            cursor, own = hi, 0
            for neg_end, cs, child in candidates:
                if cursor <= lo:
                    break
                if -neg_end <= cursor:
                    own += cursor + neg_end
                    if size[child] == 1:  # a leaf is critical for all of its (clipped) time
                        out[child] = -neg_end - cs
                    else:
                        work.append((child, cs, -neg_end))
                    cursor = cs
            out[row] = own + max(0, cursor - lo)
        return out

    def critical_span_ids(self) -> frozenset[str]:
        return frozenset(self.spans[row].span_id for row in self.critical_path())

    # -- finding -----------------------------------------------------------------------------

    def find(self, text: str) -> list[int]:
        """Rows whose span's name, service, id, status message, attributes (keys and
        values) or events (names and attributes) contain ``text``, ignoring case."""
        needle = text.casefold()
        if not needle:
            return []
        if self._haystacks is None:
            self._haystacks = [_haystack(span) for span in self.spans]
        return [row for row, hay in enumerate(self._haystacks) if needle in hay]

    def next_error(self, from_row: int, forward: bool = True) -> int | None:
        """The next error row after (or before) ``from_row``, wrapping round; None when
        the trace has none. Pass -1 to start from the top (``len(tree)`` from the end)."""
        return _next_in(self._errors, from_row, forward)

    def slow_rows(self, percentile: float = 90.0, measure: SlowMeasure = "self") -> list[int]:
        """Rows whose self time (or duration) is at least the ``percentile``-th (nearest
        rank) of all rows' and above zero. Self time is the default because a parent's
        duration always covers its slow child's."""
        key = (percentile, measure)
        if key not in self._slow:
            if measure == "self":
                values = [self.self_time(r) for r in range(len(self.spans))]
            else:
                values = [e - s for s, e in zip(self._start, self._end)]
            cutoff = 0
            if values:
                rank = min(len(values), max(1, math.ceil(percentile / 100 * len(values))))
                cutoff = sorted(values)[rank - 1]
            self._slow[key] = [r for r, v in enumerate(values) if v > 0 and v >= cutoff]
        return self._slow[key]

    def next_slow(self, from_row: int, forward: bool = True, percentile: float = 90.0,
                  measure: SlowMeasure = "self") -> int | None:
        """Like :meth:`next_error`, over :meth:`slow_rows`."""
        return _next_in(self.slow_rows(percentile, measure), from_row, forward)

    # -- summary -----------------------------------------------------------------------------

    def summary(self) -> TraceSummary | None:
        """The trace-list line for these spans (raw times), as every trace source makes
        it; None for no spans."""
        return summarize(self.spans[0].trace_id, self.spans) if self.spans else None


def _break_cycles(spans: list[Span], parent: list[int], flags: list[int],
                  detached: dict[int, str]) -> None:
    # Each span has one parent, so loops are found by walking up once from every span.
    state = bytearray(len(spans))  # 0 unseen, 1 on the current walk, 2 settled
    for i in range(len(spans)):
        if state[i]:
            continue
        path: list[int] = []
        j = i
        while j >= 0 and not state[j]:
            state[j] = 1
            path.append(j)
            j = parent[j]
        if j >= 0 and state[j] == 1:
            loop = path[path.index(j):]
            cut = min(loop, key=lambda k: (spans[k].start_ns, spans[k].seq, k))
            for k in loop:
                flags[k] |= _CYCLE
            detached[cut] = spans[cut].parent_span_id or ""
            parent[cut] = -1
        for k in path:
            state[k] = 2


def _mark_skew(spans: list[Span], children: list[list[int]], roots: list[int],
               flags: list[int], start: list[int], end: list[int],
               adjust: bool) -> list[int] | None:
    """Flag children outside their parents; with ``adjust``, the shift of every span (a
    shifted parent's is carried down its subtree), or None when nothing moved. A child is
    compared with its parent's raw times: a shift moves both alike."""
    shift: list[int] | None = None
    stack = list(roots)
    while stack:
        p = stack.pop()
        kids = children[p]
        if not kids:
            continue
        stack.extend(kids)
        ps, pe = start[p], end[p]
        for c in kids:
            cs, ce = start[c], end[c]
            if cs >= ps and ce <= pe:
                if shift is not None:
                    shift[c] = shift[p]
                continue
            flags[c] |= _SKEWED
            span, pspan = spans[c], spans[p]
            if (adjust and ce - cs <= pe - ps and not _same_clock(span, pspan)
                    and pspan.kind is not SpanKind.PRODUCER
                    and span.kind is not SpanKind.CONSUMER):
                if shift is None:
                    shift = [0] * len(spans)
                shift[c] = shift[p] + ps + (pe - ps - (ce - cs)) // 2 - cs
                flags[c] |= _SHIFTED
            elif shift is not None:
                shift[c] = shift[p]
    return shift


def _haystack(span: Span) -> str:
    parts = [span.name, span.service, span.span_id, span.status_message]
    for key, value in (span.attributes or {}).items():
        parts += (key, value)
    for event in span.events or ():
        parts.append(event.name)
        for key, value in (event.attributes or {}).items():
            parts += (key, value)
    return "\n".join(parts).casefold()


def _next_in(rows: list[int], from_row: int, forward: bool) -> int | None:
    if not rows:
        return None
    if forward:
        at = bisect_right(rows, from_row)
        return rows[at] if at < len(rows) else rows[0]
    at = bisect_left(rows, from_row) - 1
    return rows[at]  # -1 wraps to the last
