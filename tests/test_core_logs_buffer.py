"""The log buffer: a bounded ring with stable indices that merges sources in time order,
and tells readers what moved."""

from __future__ import annotations

import json
import random
import tracemalloc

import pytest

from watchdeck.core.logs.buffer import LogBuffer
from watchdeck.core.logs.model import LogGap, LogItem, LogRecord
from watchdeck.core.logs.parse import LineRecord, parse_line


def rec(time_ns: int, name: str = "", source: str = "a") -> LogRecord:
    return LogRecord(time_ns, name or f"t{time_ns}", source=source)


def messages(buffer: LogBuffer) -> list[str]:
    return [item.message if isinstance(item, LogRecord) else f"gap:{item.reason}"
            for item in buffer]


# ---------------------------------------------------------------------- the ring

def test_empty_buffer() -> None:
    buffer = LogBuffer(10)
    assert (buffer.start, buffer.end, len(buffer)) == (0, 0, 0)
    assert list(buffer) == []
    with pytest.raises(IndexError):
        buffer[0]
    assert buffer.changed_since(0) == 0


def test_indices_are_absolute_and_stable_while_the_oldest_drop() -> None:
    buffer = LogBuffer(3)
    buffer.add([rec(1), rec(2)])
    assert (buffer.start, buffer.end, len(buffer)) == (0, 2, 2)
    assert buffer[1].time_ns == 2
    buffer.add([rec(3), rec(4), rec(5)])
    assert (buffer.start, buffer.end, len(buffer)) == (2, 5, 3)
    assert [buffer[i].time_ns for i in range(2, 5)] == [3, 4, 5]
    for outside in (-1, 0, 1, 5, 6):
        with pytest.raises(IndexError):
            buffer[outside]
    assert buffer.between(0, 4) == [buffer[2], buffer[3]]
    assert buffer.between(4, 99) == [buffer[4]]
    assert buffer.between(3, 3) == []


def test_a_batch_larger_than_the_capacity_keeps_the_newest() -> None:
    buffer = LogBuffer(5)
    buffer.add(rec(t) for t in range(20_000))  # any iterable
    assert (buffer.start, buffer.end) == (19_995, 20_000)
    assert [item.time_ns for item in buffer] == list(range(19_995, 20_000))


def test_many_small_adds_wrap_the_ring_many_times() -> None:
    buffer = LogBuffer(1000)
    for t in range(50_000):
        buffer.add([rec(t)])
    assert (buffer.start, buffer.end, len(buffer)) == (49_000, 50_000, 1000)
    assert buffer[49_000].time_ns == 49_000 and buffer[49_999].time_ns == 49_999


def test_clear_keeps_counting() -> None:
    buffer = LogBuffer(10)
    buffer.add([rec(1), rec(2)])
    buffer.clear()
    assert (buffer.start, buffer.end, len(buffer)) == (2, 2, 0)
    buffer.add([rec(3)])
    assert buffer[2].time_ns == 3


# ---------------------------------------------------------------------- merging

def test_sources_merge_in_time_order_ties_by_arrival() -> None:
    buffer = LogBuffer(100)
    buffer.add([rec(10, "a10"), rec(20, "a20"), rec(30, "a30")])
    buffer.add([rec(15, "b15", "b"), rec(20, "b20", "b"), rec(40, "b40", "b")])
    buffer.add([LogGap(20, "dropped", source="a"), rec(5, "a5")])
    assert messages(buffer) == ["a5", "a10", "b15", "a20", "b20", "gap:dropped", "a30", "b40"]


def test_changed_since_reports_the_lowest_moved_index() -> None:
    buffer = LogBuffer(100)
    buffer.add([rec(t) for t in (10, 20, 30, 40)])
    seen = buffer.end
    assert buffer.changed_since(seen) == seen  # nothing moved
    buffer.add([rec(50), rec(60)])
    assert buffer.changed_since(seen) == seen  # appended after what the reader saw
    buffer.add([rec(25)])  # lands at index 2
    assert buffer.changed_since(seen) == 2
    assert buffer.changed_since(buffer.end) == buffer.end
    assert buffer.changed_since(2) == 2
    assert buffer.changed_since(1) == 1  # a reader that saw less is not told of more


def test_changed_since_serves_several_readers_of_one_buffer() -> None:
    buffer = LogBuffer(100)
    buffer.add([rec(t) for t in range(0, 100, 10)])  # indices 0..9
    early = buffer.end
    buffer.add([rec(95)])  # at 10: after what the early reader saw
    late = buffer.end
    buffer.add([rec(55)])  # at 6
    assert buffer.changed_since(early) == 6
    assert buffer.changed_since(late) == 6
    buffer.add([rec(5)])  # at 1
    assert buffer.changed_since(early) == 1
    newest = buffer.end
    buffer.add([rec(200)])
    assert buffer.changed_since(newest) == newest
    assert buffer.changed_since(early) == 1  # asking twice tells the same


def test_insertions_go_back_at_most_the_merge_window() -> None:
    buffer = LogBuffer(100, merge_window=3)
    buffer.add([rec(t * 10) for t in range(1, 7)])  # 10..60
    buffer.add([rec(5, "late")])  # older than the window: at its start (index 3)
    assert messages(buffer) == ["t10", "t20", "t30", "late", "t40", "t50", "t60"]
    assert buffer.changed_since(6) == 3
    buffer.add([rec(35, "in window")])  # the window (t40 t50 t60) starts after "late"
    assert messages(buffer)[3:6] == ["late", "in window", "t40"]
    assert buffer.changed_since(7) == 4
    no_window = LogBuffer(100, merge_window=0)
    no_window.add([rec(20), rec(10)])
    assert [item.time_ns for item in no_window] == [20, 10]  # arrival order
    assert no_window.changed_since(1) == 1


def test_an_item_older_than_everything_kept_in_a_full_buffer_drops() -> None:
    buffer = LogBuffer(3)
    buffer.add([rec(10), rec(20), rec(30)])
    buffer.add([rec(5)])
    assert [item.time_ns for item in buffer] == [10, 20, 30]
    assert (buffer.start, buffer.end) == (1, 4)


class SortedModel:
    """The buffer's rules, written plainly: a list kept whole, searched item by item."""

    def __init__(self, capacity: int, window: int) -> None:
        self.capacity, self.window = capacity, window
        self.items: list[LogItem] = []
        self.start = 0

    def add(self, item: LogItem) -> None:
        times = [kept.time_ns for kept in self.items]
        if not times or item.time_ns >= times[-1]:
            place = len(times)
        else:  # after the last kept item no newer than it, within the window
            place = max(0, len(times) - self.window)
            while place < len(times) and times[place] <= item.time_ns:
                place += 1
        self.items.insert(place, item)
        if len(self.items) > self.capacity:
            del self.items[0]
            self.start += 1


@pytest.mark.parametrize("seed", range(12))
def test_randomised_against_a_plain_model(seed: int) -> None:
    chance = random.Random(seed)
    capacity = chance.choice([1, 5, 50, 300])
    window = chance.choice([0, 3, 40, 1000])
    buffer = LogBuffer(capacity, merge_window=window)
    model = SortedModel(capacity, min(window, capacity))
    clocks = {"a": 1000, "b": 1000, "c": 1000}
    readers: list[tuple[int, list[LogItem]]] = []
    for step in range(400):
        batch: list[LogItem] = []
        for _ in range(chance.randrange(0, 8)):
            source = chance.choice("abc")
            clocks[source] += chance.randrange(0, 30)
            late = chance.random() < 0.15  # now and then, a line from long ago
            time_ns = clocks[source] - (chance.randrange(0, 2000) if late else 0)
            if chance.random() < 0.1:
                batch.append(LogGap(time_ns, f"gap {step}", source=source))
            else:
                batch.append(LogRecord(time_ns, f"{source}{step}", source=source, seq=step))
        buffer.add(batch)
        for item in batch:
            model.add(item)
        assert (buffer.start, buffer.end) == (model.start, model.start + len(model.items))
        assert list(buffer) == model.items
        assert all(buffer[model.start + i] is item for i, item in enumerate(model.items))
        # Readers that read earlier: below what changed_since says, nothing moved.
        for seen_end, seen in readers:
            since = buffer.changed_since(seen_end)
            assert since <= seen_end
            for index in range(max(buffer.start, seen_end - len(seen)), min(since, buffer.end)):
                assert buffer[index] is seen[index - (seen_end - len(seen))], (seen_end, index)
        if chance.random() < 0.3:
            readers.append((buffer.end, list(buffer)))
            readers = readers[-5:]


def test_in_order_adds_never_report_changes() -> None:
    buffer = LogBuffer(50)
    for t in range(0, 1000, 7):
        seen = buffer.end
        buffer.add([rec(t), rec(t), rec(t + 1)])
        assert buffer.changed_since(seen) == seen


# ---------------------------------------------------------------------- compact storage

def test_structured_records_are_kept_compact_and_read_back_equal() -> None:
    lines = [json.dumps({"level": "warn", "msg": f"m{i}", "k": str(i), "trace_id": f"{i:016x}"})
             for i in range(5)]
    originals = [parse_line(line, source="s", seq=i) for i, line in enumerate(lines)]
    given = [parse_line(line, source="s", seq=i) for i, line in enumerate(lines)]
    given.append(parse_line("plain text line", seq=5))
    changed = parse_line('{"msg":"m","k":"v"}', seq=6)
    changed.fields = {"k": "v", "added": "by the source"}
    given.append(changed)
    buffer = LogBuffer(10)
    buffer.add(given)
    assert all(isinstance(buffer[i], LineRecord) for i in range(5))
    assert [buffer[i] for i in range(5)] == originals
    assert buffer[5].message == "plain text line" and type(buffer[5]) is LogRecord
    assert buffer[6] is changed and buffer[6].fields == {"k": "v", "added": "by the source"}


def test_memory_per_typical_line_is_small() -> None:
    """Bytes per kept 120-character line (the report measures 100k lines; 20k here, to be
    quick); asserted loosely, so the test fails only when storage really regresses."""
    count = 20_000
    tracemalloc.start()
    try:
        buffer = LogBuffer(count)
        for first in range(0, count, 1000):
            buffer.add([parse_line(
                f"2026-11-26T06:42:45.{i % 1000:03d}Z INFO  api.handler request served "
                f"path=/api/v1/items/{i:08d} status=200 duration=12ms", seq=i)
                for i in range(first, first + 1000)])
        used = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(buffer[0].line) >= 110
    assert used / count < 500
