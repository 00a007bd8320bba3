"""The waterfall model (``watchdeck.core.traces.tree``) on large traces.

    python bench/traces_tree.py [--spans 10000] [--runs 9]

Figures (best and median of the runs, each on a freshly built tree where a cache would
otherwise answer): building a random trace (depth up to 20, fan-out varying, spans in
shuffled order); the visible rows after one collapse, after collapsing below depth 2 and
with everything open; the critical path; self times; a first and a repeated search; every
row's bar; the Row objects for every row; a 1,000-level chain; the critical path's worst
case (every span on it); and the bytes per span of the tree's own structures (tracemalloc,
the spans themselves not counted).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from watchdeck.core.otlp.spans import Span, StatusCode  # noqa: E402
from watchdeck.core.traces.tree import TraceTree  # noqa: E402

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def random_trace(rng: random.Random, n: int, max_depth: int = 20) -> list[Span]:
    depth = [0]
    times = [(1_700_000_000_000_000_000, 1_700_000_002_000_000_000)]
    ids = [f"{rng.getrandbits(64):016x}" for _ in range(n)]
    spans = [Span(TRACE, ids[0], "GET /checkout", *times[0], service="gateway")]
    for i in range(1, n):
        while True:  # mostly recent spans as parents (wide fan-outs), sometimes any
            p = rng.randrange(max(0, i - 8), i) if rng.random() < 0.6 else rng.randrange(i)
            if depth[p] < max_depth:
                break
        ps, pe = times[p]
        s = rng.randint(ps, pe)
        e = rng.randint(s, pe)
        depth.append(depth[p] + 1)
        times.append((s, e))
        spans.append(Span(
            TRACE, ids[i], f"op-{rng.randrange(40)}", s, e, parent_span_id=ids[p],
            service=f"svc-{rng.randrange(12)}", seq=i,
            status=StatusCode.ERROR if rng.random() < 0.01 else StatusCode.OK,
            attributes={"http.route": f"/r/{rng.randrange(100)}", "k": str(i)}))
    rng.shuffle(spans)
    return spans


def timed(runs: int, setup: Callable[[], object], action: Callable[[object], object]) -> str:
    times = []
    for _ in range(runs):
        state = setup()
        started = time.perf_counter()
        action(state)
        times.append(time.perf_counter() - started)
    return (f"best {min(times) * 1000:8.2f} ms  "
            f"median {statistics.median(times) * 1000:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()
    runs = args.runs
    spans = random_trace(random.Random(1), args.spans)
    tree = TraceTree.build(spans)
    depth = max(tree.depth(r) for r in range(len(tree)))
    print(f"{len(tree)} spans, depth {depth}, {len(tree.roots)} root(s), "
          f"{len(tree.services)} services, python {sys.version.split()[0]}")

    def fresh() -> TraceTree:
        return TraceTree.build(spans)

    def busy_row(t: TraceTree) -> int:  # a row near the top with a big subtree
        return max(range(1, 50), key=t.subtree_size)

    print("build                          ", timed(runs, lambda: None,
                                                   lambda _: TraceTree.build(spans)))
    print("build, skew adjust off         ", timed(
        runs, lambda: None, lambda _: TraceTree.build(spans, adjust_skew=False)))

    def collapse_one(t: TraceTree) -> None:
        t.collapse(busy_row(t))
        t.visible_rows()

    row = busy_row(tree)
    print(f"collapse a {tree.subtree_size(row)}-row subtree + visible rows",
          timed(runs, lambda: (t := fresh(), t.visible_rows())[0], collapse_one))

    def many_collapsed() -> TraceTree:
        t = fresh()
        t.collapse_all_below(2)
        t.visible_rows()
        return t

    def toggle_top(t: TraceTree) -> None:
        t.toggle(t.roots[0])
        t.visible_rows()

    probe = many_collapsed()
    print(f"collapse_all_below(2): {len(probe.visible_rows())} rows visible, "
          f"{sum(probe.is_collapsed(r) for r in range(len(probe)))} collapsed")
    print("  collapse_all_below(2) + rows ", timed(
        runs, fresh, lambda t: (t.collapse_all_below(2), t.visible_rows())))
    print("  then a toggle + visible rows ", timed(runs, many_collapsed, toggle_top))
    print("visible rows, all open         ", timed(runs, fresh, lambda t: t.visible_rows()))
    print("critical path                  ", timed(runs, fresh, lambda t: t.critical_path()))
    print("self times (all rows)          ", timed(runs, fresh, lambda t: t.self_time(0)))
    print("find, first (builds haystacks) ", timed(runs, fresh, lambda t: t.find("op-7")))
    print("find, again                    ", timed(
        runs, lambda: (t := fresh(), t.find("x"))[0], lambda t: t.find("/r/42")))
    print("next slow (p90, first)         ", timed(runs, fresh, lambda t: t.next_slow(0)))
    print("bars for every row, width 120  ", timed(
        runs, fresh, lambda t: [t.bar(r, 120, 8) for r in range(len(t))]))
    print("Row objects for every row      ", timed(runs, fresh, lambda t: t.rows()))

    chain = [Span(TRACE, f"{i + 1:016x}", "step", i, 10_000 - i,
                  parent_span_id=f"{i:016x}" if i else None) for i in range(1000)]
    print("1,000-level chain, build + path", timed(
        runs, lambda: None, lambda _: TraceTree.build(chain).critical_path()))

    flat = [Span(TRACE, "f" * 16, "batch", 0, 10 * len(spans))] + [
        Span(TRACE, f"{i + 1:016x}", "item", 10 * i, 10 * i + 10, parent_span_id="f" * 16)
        for i in range(len(spans) - 1)]
    print(f"{len(flat)} sequential siblings: critical path ({len(flat)} rows on it)",
          timed(runs, lambda: TraceTree.build(flat), lambda t: t.critical_path()))

    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    kept = TraceTree.build(spans)
    built = tracemalloc.get_traced_memory()[0]
    kept.critical_path()
    kept.self_time(0)
    kept.find("x")
    kept.visible_rows()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del before
    n = len(kept)
    print(f"memory: tree {built / n:.0f} B/span; with critical path, self times, search "
          f"text and visible rows {after / n:.0f} B/span")


if __name__ == "__main__":
    main()
