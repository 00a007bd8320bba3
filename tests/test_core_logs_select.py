"""What a filtered log view shows (``core.logs.select``): matches, gaps, context lines, the
same answer in one scan or in many, and a scan that stops when told."""

from __future__ import annotations

import random
import threading

import pytest

from tests.support.logs import record
from watchdeck.core.logs.filter import parse_filter
from watchdeck.core.logs.model import Level, LogGap, LogItem
from watchdeck.core.logs.select import NO_MATCH, select


def items(count: int, seed: int) -> list[LogItem]:
    rng = random.Random(seed)
    out: list[LogItem] = []
    for i in range(count):
        if rng.random() < 0.02:
            out.append(LogGap(time_ns=out[-1].time_ns if out else 0, count=3, reason="drop"))
        else:
            level = rng.choice([Level.INFO] * 8 + [Level.WARN, Level.ERROR])
            out.append(record(i, f"line {i}", level, seq=i, replica=f"vllm-{rng.randrange(3)}"))
    return out


def by_hand(all_items: list[LogItem], first: int, text: str, context: int) -> list[int]:
    """The rule written out plainly: a match or a gap shows, and so do the ``context``
    lines either side of each."""
    flt = parse_filter(text)
    hits = [first + i for i, item in enumerate(all_items)
            if isinstance(item, LogGap) or flt.matches(item)]  # type: ignore[arg-type]
    shown = set(hits)
    for hit in hits:
        for near in range(hit - context, hit + context + 1):
            if first <= near < first + len(all_items):
                shown.add(near)
    return sorted(shown)


@pytest.mark.parametrize("text", ["level>=error", "replica=vllm-1", "-replica=vllm-1",
                                  "/line [0-9]*7$/"])
@pytest.mark.parametrize("context", [0, 3])
def test_one_scan_shows_matches_gaps_and_context(text: str, context: int) -> None:
    all_items = items(3000, seed=len(text) + context)
    chosen = select(all_items, 500, parse_filter(text).matches, context=context, low=500)
    assert chosen is not None
    assert list(chosen.shown) == by_hand(all_items, 500, text, context)
    if context:
        assert chosen.matched and chosen.matched <= set(chosen.shown)
        assert chosen.last_match == max(chosen.matched)
    else:
        assert chosen.last_match == NO_MATCH  # matches are tracked only for context


@pytest.mark.parametrize("context", [0, 3, 10])
def test_many_small_scans_show_what_one_scan_shows(context: int) -> None:
    """A view scanning as lines arrive, in runs of any size, shows what one scan of all
    of them shows: context runs on across the runs' edges, nothing shows twice."""
    all_items = items(5000, seed=context)
    matches = parse_filter("level>=warn").matches
    whole = select(all_items, 0, matches, context=context)
    assert whole is not None
    rng = random.Random(context)
    shown: list[int] = []
    last_match = NO_MATCH
    at = 0
    while at < len(all_items):
        size = rng.choice([1, 2, 5, 50, 700])
        part = select(all_items[at:at + size], at, matches, context=context,
                      last_shown=shown[-1] if shown else -1, last_match=last_match)
        assert part is not None
        shown.extend(part.shown)
        last_match = part.last_match
        at += size
    assert shown == list(whole.shown)
    assert len(set(shown)) == len(shown)


def test_no_filter_shows_every_index() -> None:
    chosen = select(items(100, seed=1), 40, None)
    assert chosen is not None and list(chosen.shown) == list(range(40, 140))


def test_context_before_a_match_never_reaches_below_the_oldest_kept_line() -> None:
    lines = [record(i, "error" if i == 1 else "ok", seq=i) for i in range(5)]
    chosen = select(lines, 100, parse_filter("error").matches, context=3, low=100)
    assert chosen is not None and list(chosen.shown) == [100, 101, 102, 103, 104]
    chosen = select(lines, 100, parse_filter("error").matches, context=3, low=101)
    assert chosen is not None and list(chosen.shown)[0] == 101


def test_a_stopped_scan_answers_none() -> None:
    stop = threading.Event()
    stop.set()
    assert select(items(10_000, seed=2), 0, parse_filter("x").matches, stop=stop) is None
    assert select(items(10_000, seed=2), 0, parse_filter("x").matches, context=2,
                  stop=stop) is None
