"""The waterfall model: linking, bad traces, layout, collapsing, time axis, critical path,
search and summary."""

from __future__ import annotations

import random

import pytest

from watchdeck.core.otlp.spans import Span, SpanEvent, SpanKind, StatusCode
from watchdeck.core.traces.tree import RowFlag, TraceTree

TRACE = "0af7651916cd43dd8448eb211c80319c"


def span(sid: str, parent: str | None, start: int, end: int, *, service: str = "api",
         name: str | None = None, seq: int = 0, **extra: object) -> Span:
    return Span(trace_id=TRACE, span_id=sid, name=name or f"op-{sid}", start_ns=start,
                end_ns=end, parent_span_id=parent, service=service, seq=seq,
                **extra)  # type: ignore[arg-type]


def ids(tree: TraceTree, rows: object = None) -> list[str]:
    chosen = range(len(tree)) if rows is None else rows
    return [tree.spans[r].span_id for r in chosen]  # type: ignore[union-attr]


# -- layout ---------------------------------------------------------------------------------


def test_depth_first_order_children_by_start_then_seq() -> None:
    spans = [
        span("c2", "b", 30, 40), span("root", None, 0, 100), span("b", "root", 20, 90),
        span("a", "root", 10, 15), span("c1", "b", 30, 35, seq=-1), span("d", "c1", 31, 32),
    ]
    tree = TraceTree.build(spans)
    assert ids(tree) == ["root", "a", "b", "c1", "d", "c2"]
    assert [tree.depth(r) for r in range(len(tree))] == [0, 1, 1, 2, 3, 2]
    assert [tree.subtree_size(r) for r in range(len(tree))] == [6, 1, 4, 2, 1, 1]
    assert [tree.parent(r) for r in range(len(tree))] == [-1, 0, 0, 2, 3, 2]
    assert tree.children(2) == [3, 5]
    rows = tree.rows()
    assert rows[2].has_children and not rows[1].has_children
    assert rows[0].flags == RowFlag.NONE
    assert tree.row_of("c1") == 3 and tree.row_of("nope") is None


def test_several_roots_sorted_by_start() -> None:
    spans = [span("late", None, 50, 60), span("early", None, 0, 10),
             span("kid", "late", 51, 52), span("orphan", "gone", 20, 30)]
    tree = TraceTree.build(spans)
    assert ids(tree) == ["early", "orphan", "late", "kid"]
    assert tree.roots == [0, 1, 2]
    assert tree.primary_root == 0


def test_empty_trace() -> None:
    tree = TraceTree.build([])
    assert len(tree) == 0 and tree.rows() == [] and tree.visible_rows() == ()
    assert tree.roots == [] and tree.primary_root is None
    assert tree.critical_path() == {} and tree.summary() is None
    assert tree.find("x") == [] and tree.next_error(-1) is None and tree.next_slow(-1) is None
    assert tree.services == () and tree.duration_ns == 0
    tree.collapse_all_below(0)
    assert tree.visible_rows() == ()


def test_single_span() -> None:
    tree = TraceTree.build([span("only", None, 1000, 3000)])
    assert ids(tree) == ["only"] and tree.visible_rows() == (0,)
    assert tree.bar(0, 10) == (0, 10)
    assert tree.critical_path() == {0: 2000}
    assert tree.self_time(0) == 2000
    assert not tree.collapse(0)  # nothing to hide
    summary = tree.summary()
    assert summary is not None and summary.duration_ns == 2000 and summary.has_root


# -- bad traces -----------------------------------------------------------------------------


def test_orphans_become_marked_roots() -> None:
    spans = [span("root", None, 0, 100), span("lost", "missing1", 10, 20),
             span("lostkid", "lost", 11, 12)]
    tree = TraceTree.build(spans)
    assert ids(tree) == ["root", "lost", "lostkid"]
    lost = tree.row(1)
    assert lost.flags & RowFlag.ORPHAN and lost.depth == 0
    assert lost.detached_parent_id == "missing1"
    assert tree.row(2).flags == RowFlag.NONE and tree.row(2).depth == 1
    assert tree.primary_root == 0


def test_zero_parent_ids_mean_no_parent() -> None:
    tree = TraceTree.build([span("a", "", 0, 1), span("b", "0000000000000000", 2, 3)])
    assert [tree.flags(r) for r in range(2)] == [RowFlag.NONE, RowFlag.NONE]


def test_two_span_loop_is_cut_at_earliest() -> None:
    spans = [span("a", "b", 10, 20), span("b", "a", 5, 30), span("tail", "a", 12, 13)]
    tree = TraceTree.build(spans)
    assert ids(tree) == ["b", "a", "tail"]
    assert tree.row(0).flags & RowFlag.CYCLE and tree.row(0).detached_parent_id == "a"
    assert tree.row(1).flags & RowFlag.CYCLE and tree.row(1).detached_parent_id is None
    assert not tree.row(2).flags & RowFlag.CYCLE
    assert [tree.depth(r) for r in range(3)] == [0, 1, 2]


def test_self_parent_and_long_loop() -> None:
    spans = [span("self", "self", 0, 10),
             span("x", "z", 3, 9), span("y", "x", 2, 9), span("z", "y", 4, 9)]
    tree = TraceTree.build(spans)
    assert ids(tree) == ["self", "y", "z", "x"]
    assert tree.row(0).detached_parent_id == "self"
    assert all(tree.flags(r) & RowFlag.CYCLE for r in range(4))
    assert tree.roots == [0, 1]
    # Same answer whatever order the spans come in.
    again = TraceTree.build(list(reversed(spans)))
    assert ids(again) == ids(tree)


def test_a_loop_with_no_way_in_is_still_drawn_in_full() -> None:
    rng = random.Random(5)
    spans = [span(f"s{i}", f"s{(i + 1) % 50}", rng.randrange(100), 200) for i in range(50)]
    tree = TraceTree.build(spans)
    assert len(tree.visible_rows()) == 50 and len(tree.roots) == 1
    assert max(tree.depth(r) for r in range(50)) == 49


def test_duplicates_keep_both_and_children_attach_to_first() -> None:
    spans = [span("root", None, 0, 100), span("dup", "root", 40, 50, seq=7),
             span("dup", "root", 10, 60, seq=3), span("kid", "dup", 12, 20, seq=9)]
    tree = TraceTree.build(spans)
    assert ids(tree) == ["root", "dup", "kid", "dup"]
    first, later = tree.row(1), tree.row(3)
    assert first.span.seq == 3 and not first.flags & RowFlag.DUPLICATE
    assert later.span.seq == 7 and later.flags & RowFlag.DUPLICATE
    assert tree.row(2).parent == 1
    assert tree.row_of("dup") == 1
    assert tree.summary().span_count == 4  # type: ignore[union-attr]


def test_duplicates_by_list_position_when_seq_ties() -> None:
    tree = TraceTree.build([span("root", None, 0, 9), span("d", "root", 5, 6),
                            span("d", "root", 1, 2)])
    assert tree.flags(1) == RowFlag.DUPLICATE  # the later in the list, drawn first by start
    assert tree.flags(2) == RowFlag.NONE
    assert tree.row_of("d") == 2  # the span children would attach to


def test_end_before_start() -> None:
    tree = TraceTree.build([span("root", None, 0, 100), span("bad", "root", 50, 20)])
    row = tree.row(1)
    assert row.flags & RowFlag.BAD_TIMES
    assert (row.start_ns, row.end_ns) == (50, 50) and row.span.end_ns == 20
    assert tree.self_time(1) == 0 and tree.bar(1, 100) == (50, 51)


def test_zero_duration_spans() -> None:
    tree = TraceTree.build([span("root", None, 0, 100), span("z", "root", 100, 100),
                            span("z0", "root", 0, 0)])
    assert ids(tree) == ["root", "z0", "z"]
    assert tree.bar(1, 10) == (0, 1)
    assert tree.bar(2, 10) == (9, 10)  # at the very end, still one cell
    assert tree.critical_path() == {0: 100}
    assert tree.self_time(0) == 100


# -- clock skew -----------------------------------------------------------------------------


def test_skewed_child_on_another_clock_is_centred_in_its_parent() -> None:
    spans = [span("root", None, 100, 200, service="api"),
             span("db", "root", 50, 100, service="db"),
             span("q", "db", 60, 70, service="db")]
    tree = TraceTree.build(spans)
    db, q = tree.row(1), tree.row(2)
    assert db.flags == RowFlag.SKEWED | RowFlag.SHIFTED
    assert (db.start_ns, db.end_ns) == (125, 175)
    assert (db.span.start_ns, db.span.end_ns) == (50, 100)  # raw times kept
    assert (q.start_ns, q.end_ns) == (135, 145) and q.flags == RowFlag.NONE
    assert (tree.start_ns, tree.end_ns) == (100, 200)
    assert tree.summary().duration_ns == 150  # type: ignore[union-attr]  # raw


def test_skew_left_alone_when_it_cannot_fit_or_is_asked_not_to() -> None:
    longer = [span("root", None, 100, 200), span("db", "root", 50, 300, service="db")]
    row = TraceTree.build(longer).row(1)
    assert row.flags == RowFlag.SKEWED and (row.start_ns, row.end_ns) == (50, 300)

    skewed = [span("root", None, 100, 200), span("db", "root", 50, 100, service="db")]
    row = TraceTree.build(skewed, adjust_skew=False).row(1)
    assert row.flags == RowFlag.SKEWED and row.start_ns == 50


def test_same_clock_and_messaging_children_are_not_shifted() -> None:
    spans = [span("root", None, 100, 200, kind=SpanKind.PRODUCER),
             span("late", "root", 150, 260),
             span("consume", "root", 250, 280, service="worker", kind=SpanKind.CONSUMER),
             span("early", "root", 90, 95, service="api")]
    tree = TraceTree.build(spans)
    for row in range(1, 4):
        assert tree.flags(row) == RowFlag.SKEWED
        assert tree.shown_times(row) == (tree.spans[row].start_ns, tree.spans[row].end_ns)


def test_other_host_of_same_service_is_another_clock() -> None:
    spans = [span("root", None, 100, 200, resource={"host.name": "a"}),
             span("kid", "root", 190, 230, resource={"host.name": "b"})]
    assert TraceTree.build(spans).flags(1) == RowFlag.SKEWED | RowFlag.SHIFTED


# -- collapsing -----------------------------------------------------------------------------


def random_trace(rng: random.Random, n: int, max_depth: int = 20) -> list[Span]:
    """A random tree: fan-out varies (a parent is drawn from recent or any spans), depth is
    capped, children lie inside their parents, arrival order shuffled."""
    depth = [0]
    times = [(0, 1_000_000_000)]
    spans = [span("0" * 15 + "1", None, *times[0], name="root")]
    for i in range(1, n):
        while True:
            p = rng.randrange(max(0, i - 8), i) if rng.random() < 0.6 else rng.randrange(i)
            if depth[p] < max_depth:
                break
        ps, pe = times[p]
        s = rng.randint(ps, pe)
        e = rng.randint(s, pe)
        depth.append(depth[p] + 1)
        times.append((s, e))
        spans.append(span(f"{i + 1:016x}", spans[p].span_id, s, e,
                          service=f"svc{rng.randrange(6)}", seq=i,
                          status=StatusCode.ERROR if rng.random() < 0.02 else StatusCode.OK))
    rng.shuffle(spans)
    return spans


def naive_visible(tree: TraceTree) -> tuple[int, ...]:
    out = []
    for row in range(len(tree)):
        p = tree.parent(row)
        while p >= 0 and not tree.is_collapsed(p):
            p = tree.parent(p)
        if p < 0:
            out.append(row)
    return tuple(out)


def check_layout(tree: TraceTree) -> None:
    for row in range(len(tree)):
        p = tree.parent(row)
        assert p < row
        assert tree.depth(row) == (0 if p < 0 else tree.depth(p) + 1)
        end = row + tree.subtree_size(row)
        for inner in range(row + 1, end):  # the subtree is the rows right after
            a = tree.parent(inner)
            while a > row:
                a = tree.parent(a)
            assert a == row
        assert end == len(tree) or tree.depth(end) <= tree.depth(row)
        kids = tree.children(row)
        keys = [(tree.shown_times(k)[0], tree.spans[k].seq, k) for k in kids]
        assert keys == sorted(keys)


@pytest.mark.parametrize("seed", range(6))
def test_collapse_and_expand_match_a_naive_walk(seed: int) -> None:
    rng = random.Random(seed)
    tree = TraceTree.build(random_trace(rng, 400))
    check_layout(tree)
    assert tree.visible_rows() == tuple(range(400))
    for _ in range(120):
        action = rng.randrange(6)
        row = rng.randrange(len(tree))
        if action == 0:
            tree.collapse(row)
        elif action == 1:
            tree.expand(tree.spans[row].span_id)
        elif action == 2:
            tree.toggle(row)
        elif action == 3:
            tree.collapse_all_below(rng.randrange(4))
        elif action == 4:
            hidden = row not in naive_visible(tree)
            assert tree.reveal(row) == hidden
            assert row in tree.visible_rows()
        else:
            shown = tree.visible_rows()
            at = tree.visible_position(row)
            hider = row
            p = tree.parent(row)
            while p >= 0:
                if tree.is_collapsed(p):
                    hider = p
                p = tree.parent(p)
            assert shown[at] == hider
        assert tree.visible_rows() == naive_visible(tree)


def test_collapse_all_below_and_toggle() -> None:
    spans = [span("r", None, 0, 10), span("a", "r", 1, 5), span("a1", "a", 2, 3),
             span("a11", "a1", 2, 3), span("b", "r", 6, 9)]
    tree = TraceTree.build(spans)
    tree.collapse_all_below(0)
    assert tree.visible_rows() == (0,)
    tree.collapse_all_below(1)
    assert ids(tree, tree.visible_rows()) == ["r", "a", "b"]
    assert tree.toggle("a") and ids(tree, tree.visible_rows()) == ["r", "a", "a1", "b"]
    assert tree.row(2).collapsed  # deeper levels open one at a time
    assert not tree.collapse(4) and not tree.expand(0) and not tree.toggle("nope")
    tree.expand_all()
    assert len(tree.visible_rows()) == 5


# -- time axis ------------------------------------------------------------------------------


def test_bar_scaling() -> None:
    tree = TraceTree.build([span("r", None, 1000, 2000), span("a", "r", 1000, 1500),
                            span("b", "r", 1500, 1501), span("c", "r", 1999, 2000)])
    assert tree.bar(0, 10) == (0, 10)
    assert tree.bar(1, 10) == (0, 5)
    assert tree.bar(2, 10) == (5, 6)  # a sliver still gets its cell
    assert tree.bar(3, 10) == (9, 10)
    assert tree.bar(2, 10, subcells=8) == (40, 41)
    assert tree.bar(1, 3, subcells=8) == (0, 12)
    for row in range(4):
        assert tree.bar(row, 1) == (0, 1)
    assert tree.column(1500, 10) == 5 and tree.column(0, 10) == 0 and tree.column(9999, 10) == 9
    with pytest.raises(ValueError):
        tree.bar(0, 0)


def test_bar_in_a_trace_of_zero_length() -> None:
    tree = TraceTree.build([span("r", None, 5, 5), span("a", "r", 5, 5)])
    assert tree.duration_ns == 0
    assert tree.bar(0, 80) == (0, 1) and tree.bar(1, 80, subcells=8) == (0, 1)
    assert tree.column(5, 80) == 0


# -- critical path --------------------------------------------------------------------------


def critical(tree: TraceTree) -> dict[str, int]:
    return {tree.spans[r].span_id: ns for r, ns in tree.critical_path().items()}


def test_critical_path_sequential_children() -> None:
    tree = TraceTree.build([span("r", None, 0, 100), span("a", "r", 5, 30),
                            span("b", "r", 30, 60), span("c", "r", 60, 95)])
    assert critical(tree) == {"r": 10, "a": 25, "b": 30, "c": 35}
    assert sum(tree.critical_path().values()) == 100
    assert tree.critical_span_ids() == {"r", "a", "b", "c"}


def test_critical_path_parallel_children() -> None:
    tree = TraceTree.build([span("r", None, 0, 100), span("long", "r", 10, 90),
                            span("short", "r", 20, 50), span("after", "r", 10, 95)])
    # "after" finished last; "long" and "short" overlap it and are passed over.
    assert critical(tree) == {"r": 15, "after": 85}
    tree = TraceTree.build([span("r", None, 0, 100), span("x", "r", 10, 60),
                            span("y", "r", 20, 95), span("y1", "y", 30, 40),
                            span("y2", "y", 40, 80)])
    assert critical(tree) == {"r": 25, "y": 25, "y2": 40, "y1": 10}
    # A grandchild overlapped by its sibling's later-finishing span is passed over.
    tree = TraceTree.build([span("r", None, 0, 100), span("y", "r", 20, 95),
                            span("y1", "y", 30, 50), span("y2", "y", 40, 80)])
    assert critical(tree) == {"r": 25, "y": 35, "y2": 40}


def test_critical_path_passes_over_async_children() -> None:
    spans = [span("r", None, 0, 100), span("sync", "r", 10, 50),
             span("async", "r", 40, 300), span("late", "sync", 45, 70)]
    tree = TraceTree.build(spans)
    assert tree.flags(tree.row_of("async")) == RowFlag.SKEWED  # same clock: not moved
    assert critical(tree) == {"r": 60, "sync": 40}
    assert tree.end_ns == 300


def test_critical_path_clips_children_that_start_before_their_parent() -> None:
    spans = [span("r", None, 100, 200), span("a", "r", 50, 150)]
    tree = TraceTree.build(spans)
    assert critical(tree) == {"r": 50, "a": 50}


def test_critical_path_starts_at_the_real_root() -> None:
    spans = [span("orphan", "gone", 0, 500), span("r", None, 10, 20), span("a", "r", 12, 18)]
    tree = TraceTree.build(spans)
    assert critical(tree) == {"r": 4, "a": 6}


def test_self_times() -> None:
    tree = TraceTree.build([span("r", None, 0, 100), span("a", "r", 10, 40),
                            span("b", "r", 30, 60), span("c", "r", 80, 130),
                            span("a1", "a", 10, 40)])
    assert ids(tree) == ["r", "a", "a1", "b", "c"]
    # r: a and b cover 10..60, c (clipped to r) 80..100; a is all a1.
    assert [tree.self_time(r) for r in range(len(tree))] == [30, 0, 30, 30, 50]


# -- finding --------------------------------------------------------------------------------


def test_find_is_case_insensitive_over_fields_and_events() -> None:
    spans = [
        span("r", None, 0, 100, name="GET /checkout", service="Gateway"),
        span("a", "r", 1, 2, attributes={"db.statement": "SELECT * FROM Carts"}),
        span("b", "r", 3, 4, events=[SpanEvent(5, "exception",
                                               {"exception.type": "TimeoutError"})]),
        span("c", "r", 5, 6, attributes={"gen_ai.request.model": "x"}),
    ]
    tree = TraceTree.build(spans)
    assert tree.find("checkout") == [0]
    assert tree.find("gateway") == [0]
    assert tree.find("carts") == [1]
    assert tree.find("timeouterror") == [2] and tree.find("EXCEPTION") == [2]
    assert tree.find("gen_ai") == [3]
    assert tree.find("") == [] and tree.find("zzz") == []


def test_next_error_wraps_both_ways() -> None:
    spans = [span("r", None, 0, 100)] + [
        span(f"k{i}", "r", i, i + 1, status=StatusCode.ERROR if i in (2, 5) else 0)
        for i in range(8)]
    tree = TraceTree.build(spans)
    errors = [tree.row_of("k2"), tree.row_of("k5")]
    assert tree.next_error(-1) == errors[0]
    assert tree.next_error(errors[0]) == errors[1]
    assert tree.next_error(errors[1]) == errors[0]
    assert tree.next_error(len(tree), forward=False) == errors[1]
    assert tree.next_error(errors[0], forward=False) == errors[1]
    assert tree.row(errors[0]).flags & RowFlag.ERROR


def test_next_slow_by_self_time_percentile() -> None:
    spans = [span("r", None, 0, 1000)] + [
        span(f"k{i}", "r", i * 100, i * 100 + (90 if i == 3 else 10)) for i in range(10)]
    tree = TraceTree.build(spans)
    # Self times: r 800, k3 90, the rest 10. The 90th percentile of 11 values is 90.
    assert ids(tree, tree.slow_rows(90)) == ["r", "k3"]
    assert tree.next_slow(0) == tree.row_of("k3")
    assert tree.next_slow(tree.row_of("k3")) == 0  # wraps
    assert ids(tree, tree.slow_rows(100, "duration")) == ["r"]
    assert len(tree.slow_rows(0)) == 11


# -- services and summary ---------------------------------------------------------------------


def test_services_indexed_by_first_appearance() -> None:
    spans = [span("r", None, 0, 10, service="web"), span("a", "r", 1, 2, service="db"),
             span("b", "r", 3, 4, service="web"), span("c", "r", 5, 6, service="cache")]
    tree = TraceTree.build(spans)
    assert tree.services == ("web", "db", "cache")
    assert [tree.service_index(r) for r in range(4)] == [0, 1, 0, 2]


def test_summary() -> None:
    spans = [span("a", "r", 5, 50, service="db", status=StatusCode.ERROR),
             span("r", None, 0, 40, service="web", name="GET /"),
             span("o", "gone", -10, 20, service="cache", status=StatusCode.ERROR)]
    summary = TraceTree.build(spans).summary()
    assert summary is not None
    assert (summary.trace_id, summary.service, summary.operation) == (TRACE, "web", "GET /")
    assert (summary.start_ns, summary.duration_ns) == (-10, 60)
    assert (summary.span_count, summary.error_count) == (3, 2)
    assert summary.services == ("cache", "db", "web") and summary.has_root

    rootless = TraceTree.build([span("x", "gone", 5, 9), span("y", "gone", 1, 3)]).summary()
    assert rootless is not None and not rootless.has_root and rootless.operation == "op-y"


def test_deep_chain_builds_without_recursion() -> None:
    spans = [span(f"s{i}", f"s{i - 1}" if i else None, i, 10_000 - i) for i in range(3000)]
    tree = TraceTree.build(list(reversed(spans)))
    assert tree.depth(2999) == 2999
    assert len(tree.critical_path()) == 3000
    tree.collapse(0)
    assert tree.visible_rows() == (0,)
    assert tree.visible_position(2999) == 0


@pytest.mark.parametrize("seed", range(8))
def test_garbage_traces_are_laid_out_whole(seed: int) -> None:
    """Random parents (missing, self, loops), repeated ids, times in any order: every span
    gets exactly one row, the layout holds, and the critical path adds up."""
    rng = random.Random(100 + seed)
    names = [f"id{i}" for i in range(60)]
    spans = []
    for i in range(80):
        parent = rng.choice([None, f"gone{i}", *names])
        start = rng.randrange(1000)
        spans.append(span(rng.choice(names), parent, start, start + rng.randrange(-50, 400),
                          service=rng.choice("abc"), seq=rng.randrange(5)))
    tree = TraceTree.build(spans)
    assert sorted(map(id, tree.spans)) == sorted(map(id, spans))
    check_layout(tree)
    for row in range(len(tree)):
        start, end = tree.shown_times(row)
        assert end >= start
        assert 0 <= tree.bar(row, 37)[0] < tree.bar(row, 37)[1] <= 37
    root = tree.primary_root
    assert root is not None
    start, end = tree.shown_times(root)
    assert sum(tree.critical_path().values()) == end - start
    tree.collapse_all_below(1)
    assert tree.visible_rows() == naive_visible(tree)
