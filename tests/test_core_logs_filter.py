"""The logs filter language and search: what each term keeps, errors with positions, and
filters written back (``describe``) reading the same."""

from __future__ import annotations

import json
import random

import pytest

from watchdeck.core.logs.filter import (
    MAX_SPANS,
    FilterError,
    parse_filter,
    parse_search,
)
from watchdeck.core.logs.model import Level, LogGap, LogItem, LogRecord
from watchdeck.core.logs.parse import LineRecord, compact, parse_line

LINES = [
    '{"level":"error","msg":"payment failed","status":503,"path":"/api/pay","trace_id":'
    '"4bf92f3577b34da6a3ce929d0e0e4736","latency_ms":1250.5}',
    '{"level":"info","msg":"request served","status":200,"path":"/api/cart","user":"Ann Lee"}',
    'time=2026-11-26T06:42:45Z level=warn msg="slow query" table=orders rows=120000',
    "2026-11-26 06:42:45 DEBUG cache warm: 1024 keys",
    "Nov 26 06:42:45 web-1 sshd[812]: Connection closed by 10.0.0.9",
    '{"level":"warn","msg":"quote \\" and \\\\ inside","note":"a\\"b","status":429}',
    "PANIC: Out Of Memory",
    '{"msg":"nested","http":{"status":500,"route":"/x"}}',
]


def records() -> list[LogRecord]:
    return [parse_line(line, source="api" if index % 2 else "db", seq=index,
                       labels={"cluster": "eu-1"} if index < 4 else None)
            for index, line in enumerate(LINES)]


def kept(spec: str, items: list[LogRecord] | None = None) -> list[int]:
    matches = parse_filter(spec).matches
    return [record.seq for record in (items or records()) if matches(record)]


# ---------------------------------------------------------------------- words and regexes

def test_words_use_smart_case_and_all_terms_must_hold() -> None:
    assert kept("failed") == [0]
    assert kept("FAILED") == []
    assert kept("connection") == [4]
    assert kept("Connection") == [4]
    assert kept("connection closed 10.0.0.9") == [4]
    assert kept("api served") == [1]
    assert kept('"request served"') == [1]
    assert kept('"served request"') == []


def test_regex_terms() -> None:
    assert kept(r"/status.:5\d\d/") == [0, 7]
    assert kept("/out of memory/") == [6]  # smart case: lower-case pattern ignores case
    assert kept("/Out of memory/") == []
    assert kept("/OUT OF MEMORY/i") == [6]
    assert kept(r"/\d{6}/") == [2]
    assert kept("/a b/ -/x/") == []
    assert kept("/api/pay") == [0]  # no closing slash before a blank: a word
    assert kept("/api/pay/") == [0]  # a regex that finds the same


def test_level_comparisons_with_any_spelling() -> None:
    assert kept("level>=warn") == [0, 2, 5, 6]
    assert kept("level>=W") == [0, 2, 5, 6]
    assert kept("level>=warning") == kept("level>=4")
    assert kept("level=err") == [0]
    assert kept("level<info") == [3, 4, 7]  # debug, and the lines with no level
    assert kept("level=unknown") == [4, 7]
    assert kept("level!=info level<=warn") == [2, 3, 4, 5, 7]
    assert kept("level>fatal") == []
    assert kept("level=~^(warn|error)$") == [0, 2, 5]


def test_field_terms_read_fields_labels_and_special_names() -> None:
    assert kept("status=503") == [0]
    assert kept("path=~^/api/") == [0, 1]
    assert kept("path!~cart") == [0, 2, 3, 4, 5, 6, 7]
    assert kept('user="Ann Lee"') == [1]
    assert kept("table=orders rows>100000") == [2]
    assert kept("status>=429") == [0, 5]
    assert kept("latency_ms>1000.25") == [0]
    assert kept("http.status=500") == [7]
    assert kept("cluster=eu-1") == [0, 1, 2, 3]
    assert kept("source=api") == [1, 3, 5, 7]
    assert kept("trace_id=4BF92F3577B34DA6A3CE929D0E0E4736") == [0]  # ids ignore case
    assert kept('msg="slow query"') == [2]
    assert kept("message=~^Nov") == [4]
    assert kept('note=a"b') == [5]


def test_missing_fields_read_as_empty() -> None:
    assert kept('user=""') == [0, 2, 3, 4, 5, 6, 7]
    assert kept('user!=""') == [1]
    assert kept("user!=bob") == [0, 1, 2, 3, 4, 5, 6, 7]
    assert kept("rows>0") == [2]  # a comparison needs a number
    assert kept("-rows>0") == [0, 1, 3, 4, 5, 6, 7]


def test_negation_of_every_kind_of_term() -> None:
    everything = list(range(len(LINES)))
    for spec in ("failed", "/slow/", "level>=warn", "status=503", '"request served"',
                 "source=api", "path=~api"):
        positive = kept(spec)
        assert kept(f"-{spec}") == [i for i in everything if i not in positive], spec


def test_words_starting_with_a_dash_or_looking_like_fields_need_quotes() -> None:
    items = [LogRecord(1, "run with -Xmx4g"), LogRecord(2, "set a=b now", seq=1)]
    assert kept('"-Xmx4g"', items) == [0]
    assert kept("--Xmx4g", items) == [1]  # the negation of the word "-Xmx4g"
    assert kept('"a=b"', items) == [1]


def test_records_without_a_line_are_read_as_message_and_fields() -> None:
    record = LogRecord(1, "from otlp", fields={"k": "v"}, trace_id="abcd1234abcd1234")
    assert parse_filter("otlp k=v").matches(record)
    assert parse_filter('"k=v"').matches(record)
    assert parse_filter("abcd1234").matches(record)


# ---------------------------------------------------------------------- gaps

def test_gaps_stay_unless_a_source_term_says_otherwise() -> None:
    gap = LogGap(1, "12 lines dropped", count=12, source="db")
    for spec in ("nothing-like-it", "level>=error", "/zzz/", "status=1", "-dropped"):
        assert parse_filter(spec).matches(gap), spec
    assert parse_filter("source=db level>=error").matches(gap)
    assert not parse_filter("source=api").matches(gap)
    assert not parse_filter("-source=db").matches(gap)
    assert parse_filter("source=~^d").matches(gap)


# ---------------------------------------------------------------------- errors

@pytest.mark.parametrize(("spec", "position", "words"), [
    ('"never closed', 1, "never closed"),
    ("ok /(unbalanced/", 5, "bad regex"),
    ("level>=loud", 8, "not a level"),
    ("rows>many", 6, "not a number"),
    ("a -", 3, "'-' needs a term"),
    ('"a"b', 4, "expected a blank"),
    ('path=~"("', 7, "bad regex"),
    ('""', 1, "empty quotes"),
    ("//", 1, "empty regex"),
])
def test_errors_say_what_and_where(spec: str, position: int, words: str) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(spec)
    assert isinstance(caught.value, ValueError)
    assert words in str(caught.value)
    assert f"(at character {position})" in str(caught.value)
    assert caught.value.position == position - 1


# ---------------------------------------------------------------------- describe

SPECS = [
    "", "error", "Error", '"two words"', '"a \\"quoted\\" word"', "/time.?out/", "/ERR/i",
    "/api/v1", "/a b/", "level>=warn", "-level<=info", "level=~^w", "status>=500",
    "path=~^/api", 'path=~"^/a b"', "user!=bob", 'user=""', 'msg="hello world"',
    "a=~/x y/i", "--x", '"-x"', '"a=b"', "trace_id=ABC", "http.status!~^5",
    r'note="back\\slash"', "source=api -source=db", "x<=-1.5e3",
]


@pytest.mark.parametrize("spec", SPECS)
def test_describe_reads_back_to_the_same_filter(spec: str) -> None:
    first = parse_filter(spec)
    again = parse_filter(first.describe())
    assert again.describe() == first.describe()
    items: list[LogItem] = [*records(), LogRecord(1, "x y a=b -x hello world", seq=50),
                            LogRecord(2, 'note back\\slash', fields={"note": "back\\slash"},
                                      seq=51),
                            LogGap(3, "gap", source="db", seq=52)]
    assert [first.matches(i) for i in items] == [again.matches(i) for i in items]


def test_describe_normalises_blanks() -> None:
    assert parse_filter("  error   level>=warn ").describe() == "error level>=warn"
    assert parse_filter("").describe() == ""
    assert parse_filter("").matches(LogRecord(1, "anything"))


# ---------------------------------------------------------------------- compact records

def test_compact_records_filter_like_full_ones() -> None:
    """Field terms skip reading a compact record's line when the value is not in it:
    randomised lines (escapes, numbers, labels named like fields) must filter the same."""
    chance = random.Random(11)
    values = ["500", "5", "-3", "1.50", "1e3", "x", "a b", 'q"t', "ü", "\\", "true", "null"]
    specs = ["k=500", "k=5", "k=-3", "k=1.5", "k=1000.0", "k=x", 'k="a b"', 'k=q"t', "k=ü",
             "k=true", "k=null", 'k=""', "k!=x", "k>=4", "k<0", "k=~^a", "j.k=5", "j.k>1",
             "app=x", "app=5"]
    for round_ in range(300):
        data: dict[str, object] = {"msg": "m"}
        for key in ("k", "j", "other"):
            if chance.random() < 0.7:
                raw = chance.choice(values)
                kind = chance.randrange(3)
                if key == "j":
                    data[key] = {"k": raw}
                elif kind == 0 and raw.lstrip("-").replace(".", "", 1).isdigit():
                    data[key] = json.loads(raw)
                else:
                    data[key] = raw
        line = json.dumps(data, ensure_ascii=chance.random() < 0.5)
        labels = {"app": chance.choice(["x", "5"])} if chance.random() < 0.5 else None
        full = parse_line(line, seq=round_, labels=labels)
        small = compact(parse_line(line, seq=round_, labels=labels))
        assert isinstance(small, LineRecord)
        for spec in specs:
            matches = parse_filter(spec).matches
            assert matches(small) == matches(full), (spec, line, labels)


def test_filters_100k_records_quickly_enough_to_measure() -> None:
    """Not a timing assertion: 100k lines filter without error and with the right count."""
    items = [parse_line(f"2026-11-26T06:42:45Z INFO served item {i} status={200 + i % 2}",
                        seq=i) for i in range(100_000)]
    # A plain line has no fields: "k=v" in its text is found as a (quoted) word.
    assert sum(map(parse_filter('item "status=201"').matches, items)) == 50_000
    assert sum(map(parse_filter("item status=201").matches, items)) == 0
    assert sum(map(parse_filter("ITEM").matches, items)) == 0


# ---------------------------------------------------------------------- search

def test_search_spans_with_smart_case() -> None:
    search = parse_search("err")
    assert search.spans("ERR: err, Err!") == [(0, 3), (5, 8), (10, 13)]
    assert parse_search("Err").spans("ERR: err, Err!") == [(10, 13)]
    assert parse_search("  two words ").spans("two words, two words") == [(0, 9), (11, 20)]
    assert parse_search("aa").spans("aaaa") == [(0, 2), (2, 4)]


def test_search_regex_skips_empty_matches_and_is_bounded() -> None:
    assert parse_search("/o*/").spans("foo boo") == [(1, 3), (5, 7)]
    assert parse_search(r"/\d+/").spans("a1 b22") == [(1, 2), (4, 6)]
    assert parse_search("/X/i").spans("x X") == [(0, 1), (2, 3)]
    assert len(parse_search("a").spans("a" * 10_000)) == MAX_SPANS
    assert len(parse_search("/a/").spans("a" * 10_000)) == MAX_SPANS


def test_search_offsets_survive_case_folding_that_changes_length() -> None:
    text = "İstanbul error"  # "İ".lower() is two characters
    assert parse_search("error").spans(text) == [(9, 14)]


def test_search_quotes_and_slashes() -> None:
    assert parse_search('"/api/"').spans("GET /api/x") == [(4, 9)]
    assert parse_search("/api").spans("GET /api/x") == [(4, 8)]
    with pytest.raises(FilterError):
        parse_search("   ")
    with pytest.raises(FilterError):
        parse_search("/(/")


def test_search_matches_message_fields_and_gaps() -> None:
    record = parse_line('{"msg":"payment failed","order":"A-17"}')
    assert parse_search("failed").matches(record)
    assert parse_search("order=A-17").matches(record)
    assert parse_search("a-17").matches(record)
    assert not parse_search('"msg"').matches(record)  # JSON syntax is not shown
    assert parse_search("dropped").matches(LogGap(1, "3 lines dropped"))
    assert parse_search("/fail(ed)?/").matches(LogRecord(1, "failed", level=Level.ERROR))
