"""Reading log lines: JSON, logfmt and plain text as real programs write them, and input
meant to hurt (tests run in UTC: conftest sets TZ)."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import datetime, timezone

import pytest

from watchdeck.core.logs.model import MAX_LINE_CHARS, Level, LogRecord, record_text
from watchdeck.core.logs.parse import LineRecord, compact, decode, parse_line


def ns(text: str) -> int:
    """RFC 3339 text (with zone) as epoch nanoseconds, exactly."""
    head, _, frac = text.rstrip("Z").partition(".")
    moment = datetime.fromisoformat(head).replace(tzinfo=timezone.utc)
    return int(moment.timestamp()) * 10**9 + int(frac.ljust(9, "0") or 0)


RECEIVED = ns("2026-11-27T12:00:00")  # when the test lines "arrived"


def read(line: str, **kwargs: object) -> LogRecord:
    kwargs.setdefault("received_ns", RECEIVED)
    return parse_line(line, **kwargs)  # type: ignore[arg-type]


# ---------------------------------------------------------------------- decoding

def test_decode_keeps_invalid_utf8_visible_and_never_raises() -> None:
    assert decode("héllo".encode()) == "héllo"
    assert decode(b"ok \xff\xfe end") == "ok \\xff\\xfe end"
    assert decode(b"half \xe2\x82") == "half \\xe2\\x82"
    assert decode(b"nul\x00byte") == "nul\x00byte"
    assert decode(bytes(range(256)))  # every byte value: no exception


# ---------------------------------------------------------------------- real shapes

def test_vllm_line_with_level_first_and_a_year_less_time() -> None:
    record = read("INFO 11-26 06:42:45 [api_server.py:1024] Starting vLLM API server on "
                  "http://0.0.0.0:8000")
    assert record.level is Level.INFO
    assert record.time_ns == ns("2026-11-26T06:42:45")
    assert record.message.startswith("INFO 11-26 06:42:45 [api_server.py:1024]")
    assert record.fields is None


def test_vllm_warning_and_uvicorn_access_lines() -> None:
    assert read("WARNING 11-26 06:42:45 [scheduler.py:1560] Sequence group 3 is preempted"
                ).level is Level.WARN
    access = read('INFO:     10.0.0.7:51234 - "POST /v1/completions HTTP/1.1" 200 OK')
    assert access.level is Level.INFO
    assert access.time_ns == RECEIVED  # no time in the line
    assert read("ERROR:    Exception in ASGI application").level is Level.ERROR


def test_year_less_time_ahead_of_arrival_belongs_to_last_year() -> None:
    record = read("Dec 31 23:59:59 host cron[1]: job done", received_ns=ns("2027-01-01T00:00:05"))
    assert record.time_ns == ns("2026-12-31T23:59:59")


def test_journald_json() -> None:
    line = json.dumps({
        "__CURSOR": "s=abc;i=1", "__REALTIME_TIMESTAMP": "1795675365123456",
        "__MONOTONIC_TIMESTAMP": "123456789", "PRIORITY": "3", "_SYSTEMD_UNIT": "kubelet.service",
        "SYSLOG_IDENTIFIER": "kubelet", "MESSAGE": "Failed to pull image", "_PID": "812",
    })
    record = read(line)
    assert record.message == "Failed to pull image"
    assert record.level is Level.ERROR
    assert record.time_ns == 1795675365123456 * 1000  # µs since the epoch
    assert record.fields is not None
    assert record.fields["_SYSTEMD_UNIT"] == "kubelet.service"
    assert "MESSAGE" not in record.fields and "PRIORITY" not in record.fields
    assert "__REALTIME_TIMESTAMP" not in record.fields


def test_journald_priority_digits() -> None:
    for digit, level in (("0", Level.FATAL), ("4", Level.WARN), ("6", Level.INFO),
                         ("7", Level.DEBUG)):
        assert read(json.dumps({"MESSAGE": "m", "PRIORITY": digit})).level is level


def test_klog_lines_from_kubectl() -> None:
    record = read("E1126 06:42:45.123456       1 reflector.go:147] failed to list *v1.Pod: "
                  "connection refused")
    assert record.level is Level.ERROR
    assert record.time_ns == ns("2026-11-26T06:42:45.123456")
    assert read("I1126 06:42:45.000001 1 server.go:1] ok").level is Level.INFO
    assert read("W1126 06:42:45.000001 1 server.go:1] hm").level is Level.WARN


def test_kubectl_timestamps_and_cri_prefix_before_json() -> None:
    record = read('2026-11-26T06:42:45.123456789Z {"level":"warn","msg":"slow","db":"users"}')
    assert (record.level, record.message, record.fields) == (Level.WARN, "slow",
                                                              {"db": "users"})
    assert record.time_ns == ns("2026-11-26T06:42:45.123456789")
    cri = read('2026-11-26T06:42:45.5Z stderr F {"level":"error","msg":"boom"}')
    assert (cri.level, cri.message) == (Level.ERROR, "boom")
    assert cri.time_ns == ns("2026-11-26T06:42:45.5")


def test_nginx_error_and_access_logs() -> None:
    error = read('2026/11/26 06:42:45 [error] 31#31: *7 open() "/usr/share/nginx/html/x" '
                 "failed (2: No such file or directory)")
    assert error.level is Level.ERROR
    assert error.time_ns == ns("2026-11-26T06:42:45")
    access = read('203.0.113.9 - - [26/Nov/2026:06:42:45 +0100] "GET /index.html HTTP/1.1" '
                  '200 615 "-" "curl/8.5.0"')
    assert access.time_ns == ns("2026-11-26T05:42:45")
    assert access.level is Level.UNKNOWN


def test_go_slog_text_handler_logfmt() -> None:
    record = read('time=2026-11-26T06:42:45.123+01:00 level=WARN msg="disk \\"data\\" at 91%" '
                  "device=/dev/sda1 free_bytes=1024 trace_id=4bf92f3577b34da6a3ce929d0e0e4736")
    assert record.level is Level.WARN
    assert record.message == 'disk "data" at 91%'
    assert record.time_ns == ns("2026-11-26T05:42:45.123")
    assert record.fields == {"device": "/dev/sda1", "free_bytes": "1024"}
    assert record.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"


def test_logrus_text_logfmt_with_escapes() -> None:
    record = read('time="2026-11-26T06:42:45Z" level=error msg="line one\\nline two\\ttab" '
                  'component=api empty= quoted=""')
    assert record.level is Level.ERROR
    assert record.message == "line one\nline two\ttab"
    assert record.fields == {"component": "api", "empty": "", "quoted": ""}
    assert record.time_ns == ns("2026-11-26T06:42:45")


def test_logfmt_only_when_the_line_clearly_is() -> None:
    assert read("user=bob logged in").fields is None
    assert read("a=b").fields is None  # one pair, not naming a level or message
    assert read("retry=3").message == "retry=3"
    assert read("level=info").level is Level.INFO
    assert read("msg=hello").message == "hello"
    assert read("x=1 y=2").fields == {"x": "1", "y": "2"}
    plain = read('2026-11-26 06:42:45 starting worker pool size=8 queue="jobs"')
    assert plain.fields is None and plain.time_ns == ns("2026-11-26T06:42:45")


def test_zap_production_json() -> None:
    line = ('{"level":"error","ts":1795675365.123456,"caller":"server/handler.go:88",'
            '"msg":"request failed","error":"context deadline exceeded","attempt":3,'
            '"latency":0.25,"ok":false,"stacktrace":"main.run\\n\\t/app/main.go:12"}')
    record = read(line)
    assert record.level is Level.ERROR
    assert record.message == "request failed"
    assert record.time_ns == 1795675365_123456_000
    assert record.fields == {"caller": "server/handler.go:88", "error": "context deadline exceeded",
                             "attempt": "3", "latency": "0.25", "ok": "false",
                             "stacktrace": "main.run\n\t/app/main.go:12"}


def test_otel_style_json_with_trace_ids_and_nested_attributes() -> None:
    line = json.dumps({
        "timestamp": "2026-11-26T06:42:45.123456789Z", "severityText": "WARN",
        "body": "cache miss storm", "traceId": "4BF92F3577B34DA6A3CE929D0E0E4736",
        "spanId": "00f067aa0ba902b7",
        "resource": {"service": {"name": "checkout"}},
        "attributes": {"http": {"route": "/cart", "status_code": 503}, "tags": ["a", "b"]},
    })
    record = read(line)
    assert record.level is Level.WARN
    assert record.message == "cache miss storm"
    assert record.time_ns == ns("2026-11-26T06:42:45.123456789")
    assert record.trace_id == "4BF92F3577B34DA6A3CE929D0E0E4736"
    assert record.span_id == "00f067aa0ba902b7"
    assert record.fields == {"resource.service.name": "checkout",
                             "attributes.http.route": "/cart",
                             "attributes.http.status_code": "503",
                             "attributes.tags": '["a","b"]'}


def test_ecs_and_datadog_nested_names() -> None:
    ecs = read(json.dumps({"@timestamp": "2026-11-26T06:42:45.000Z", "log": {"level": "warn"},
                           "message": "m", "trace": {"id": "abc123def4567890"},
                           "span": {"id": "1234567890abcdef"}}))
    assert ecs.level is Level.WARN and ecs.message == "m"
    assert (ecs.trace_id, ecs.span_id) == ("abc123def4567890", "1234567890abcdef")
    assert ecs.time_ns == ns("2026-11-26T06:42:45")
    assert ecs.fields is None
    datadog = read(json.dumps({"message": "m", "dd": {"trace_id": 1234567890123456789,
                                                      "span_id": "987"}}))
    assert (datadog.trace_id, datadog.span_id) == ("1234567890123456789", "987")


def test_pino_numeric_levels_and_epoch_units_by_size() -> None:
    record = read('{"level":50,"time":1795675365123,"pid":7,"msg":"db down"}')
    assert record.level is Level.ERROR
    assert record.time_ns == 1795675365123 * 10**6
    for value, expected in ((1795675365, 1795675365 * 10**9),
                            (1795675365123456, 1795675365123456 * 10**3),
                            (1795675365123456789, 1795675365123456789)):
        assert read(json.dumps({"msg": "m", "ts": value})).time_ns == expected
    small = read('{"msg":"m","t":5}')  # 5 is not a time: it stays a field
    assert small.time_ns == RECEIVED and small.fields == {"t": "5"}


def test_docker_json_file_log_level_read_from_its_text() -> None:
    record = read('{"log":"2026-11-26 06:42:45 ERROR connection lost\\n","stream":"stderr",'
                  '"time":"2026-11-26T06:42:45.5Z"}')
    assert record.message == "2026-11-26 06:42:45 ERROR connection lost"
    assert record.level is Level.ERROR
    assert record.fields == {"stream": "stderr"}
    assert record.time_ns == ns("2026-11-26T06:42:45.5")


def test_unknown_level_value_stays_a_field() -> None:
    record = read('{"msg":"m","level":"verbose"}')
    assert record.level is Level.UNKNOWN
    assert record.fields == {"level": "verbose"}


# ---------------------------------------------------------------------- plain text

@pytest.mark.parametrize(("line", "level", "time"), [
    ("2026-11-26 06:42:45,123 - app.db - WARNING - slow query", Level.WARN,
     "2026-11-26T06:42:45.123"),
    ("[2026-11-26T06:42:45Z INFO  my_crate::server] listening", Level.INFO,
     "2026-11-26T06:42:45"),
    ("2026-11-26T06:42:45.5+02:00 [main] ERROR com.acme.App - boom", Level.ERROR,
     "2026-11-26T04:42:45.5"),
    ("Nov 26 06:42:45 web-1 sshd[812]: error: maximum authentication attempts", Level.ERROR,
     "2026-11-26T06:42:45"),
    ("[Thu Nov 26 06:42:45.123456 2026] [core:crit] [pid 7] AH00001: down", Level.FATAL,
     "2026-11-26T06:42:45.123456"),
    ("1795675365.25 worker started", Level.UNKNOWN, None),
    ("1795675365250 DEBUG tick", Level.DEBUG, None),
    ("<4>kernel: nvme0: I/O timeout", Level.WARN, None),
    ("error: could not open config.yaml", Level.ERROR, None),
    ("[warn] retrying in 5s", Level.WARN, None),
    ("panic: runtime error: index out of range", Level.FATAL, None),
    ("Connection reset by peer", Level.UNKNOWN, None),
    ("I think it works", Level.UNKNOWN, None),  # a lone letter is not a level in prose
    ("GET /api/ERROR_PAGE 404", Level.UNKNOWN, None),
    ("request done level=warn took=3s", Level.WARN, None),
    ("2026-11-26 06:42 short time", Level.UNKNOWN, "2026-11-26T06:42:00"),
])
def test_plain_text_level_and_time(line: str, level: Level, time: str | None) -> None:
    record = read(line)
    assert record.level is level
    assert record.message == line and record.fields is None
    if time is not None:
        assert record.time_ns == ns(time)


def test_epoch_at_the_start() -> None:
    assert read("1795675365.25 worker started").time_ns == 1795675365_250_000_000
    assert read("1795675365250 DEBUG tick").time_ns == 1795675365_250_000_000
    assert read("1234567890123456 not a time").time_ns == RECEIVED


def test_impossible_dates_are_not_times() -> None:
    for line in ("2026-02-30T10:00:00Z x", "2026-13-01 10:00:00 x", "2026-11-26 25:00:00 x",
                 "0001-01-01T00:00:00Z zero time"):
        assert read(line).time_ns == RECEIVED, line


def test_trace_and_span_ids_in_plain_text() -> None:
    record = read("2026-11-26 06:42:45 INFO handled [trace_id=4bf92f3577b34da6a3ce929d0e0e4736 "
                  "span_id=00f067aa0ba902b7]")
    assert record.trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert record.span_id == "00f067aa0ba902b7"
    assert read("Traceback (most recent call last):").trace_id is None
    assert read('otelTraceID="0af7651916cd43dd8448eb211c80319c" hi').trace_id == (
        "0af7651916cd43dd8448eb211c80319c")


def test_time_precedence_backend_then_line_then_arrival() -> None:
    line = "2026-11-26T06:42:45Z INFO hello"
    assert read(line).time_ns == ns("2026-11-26T06:42:45")
    assert read(line, time_ns=42).time_ns == 42
    assert read("no time here").time_ns == RECEIVED
    assert read('{"msg":"m","ts":"2026-11-26T06:42:45Z"}', time_ns=7).time_ns == 7


def test_record_keeps_source_seq_labels_and_line() -> None:
    labels = {"app": "api"}
    record = read('{"msg":"m","k":"v"}', source="loki", seq=9, labels=labels)
    assert (record.source, record.seq, record.labels) == ("loki", 9, labels)
    assert record.line == '{"msg":"m","k":"v"}'
    assert record_text(record) == record.line
    assert read("trailing newline\r\n").line == "trailing newline"


# ---------------------------------------------------------------------- hostile input

def test_escape_sequences_are_kept_literally() -> None:
    hostile = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x1b[31mred\x1b[0m \u202eevil [bold]x[/]"
    assert read(hostile).message == hostile
    structured = read(json.dumps({"msg": hostile, "level": "info"}))
    assert structured.message == hostile  # JSON escapes decoded, the text kept as is


def test_ten_megabyte_line_is_cut_with_a_marker() -> None:
    record = read("x" * 10_000_000)
    assert record.line.startswith("x" * MAX_LINE_CHARS)
    assert record.line.endswith("[cut: 9,983,616 more characters]")
    assert len(record.line) < MAX_LINE_CHARS + 64
    huge_json = read('{"msg":"' + "y" * 10_000_000 + '","level":"error"}')
    assert huge_json.fields is None  # cut JSON is not JSON: shown as text
    assert len(huge_json.message) < MAX_LINE_CHARS + 64


def test_invalid_utf8_and_nul_bytes() -> None:
    record = read(decode(b"\xff\xfe ERROR \x00 bad \xc3"))
    assert record.message == "\\xff\\xfe ERROR \x00 bad \\xc3"
    assert record.level is Level.ERROR
    nul = read('{"msg":"a\\u0000b","level":"warn"}')
    assert nul.message == "a\x00b" and nul.level is Level.WARN


def test_deep_nesting_huge_numbers_and_non_objects() -> None:
    deep = '{"a":' + "[" * 5000 + "]" * 5000 + "}"
    assert read(deep).fields is None  # too deep for a JSON reader: plain text
    nested = read(json.dumps({"msg": "m", "a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}))
    assert nested.fields == {"a.b.c.d.e": '{"f":1}'}  # FLATTEN_DEPTH levels, then JSON
    big = read('{"msg":"m","n":' + "9" * 5000 + ',"f":1e400,"g":-1e-400}')
    assert big.message == "m"
    assert big.fields == {"n": "9" * 5000, "f": "1e400", "g": "-1e-400"}
    for line in ("[1, 2, 3]", '"just a string"', "42", "null", "{not json", "{}x"):
        record = read(line)
        assert record.message == line and record.fields is None, line


def test_binary_garbage_never_raises() -> None:
    chance = random.Random(5)
    alphabet = '{}[]":,=\\ \t0123456789aeEIWTZ-+./<>\x00\x1b'
    for _ in range(3000):
        if chance.random() < 0.5:
            raw = bytes(chance.randrange(256) for _ in range(chance.randrange(200)))
            text = decode(raw)
        else:
            text = "".join(chance.choice(alphabet) for _ in range(chance.randrange(120)))
        record = read(text)
        assert isinstance(record.message, str)
        assert compact(record) is not None


# ---------------------------------------------------------------------- compact records

def test_compact_record_equals_the_full_one_and_reads_its_line_again() -> None:
    line = json.dumps({"level": "warn", "msg": "m", "k": "v", "trace_id": "abcdef0123456789"})
    full = read(line, source="s", seq=3, labels={"app": "x"})
    twin = read(line, source="s", seq=3, labels={"app": "x"})
    small = compact(twin)
    assert isinstance(small, LineRecord)
    assert small == full and full == small
    assert (small.message, small.fields, small.trace_id, small.level) == (
        "m", {"k": "v"}, "abcdef0123456789", Level.WARN)
    assert small.line == line and small.parsed is None
    assert dataclasses.replace(small, seq=4).seq == 4
    small.message = "changed"  # still a record whose fields can be set
    assert small.message == "changed" and small != full


def test_compact_keeps_records_changed_after_parsing_and_plain_ones() -> None:
    changed = read('{"msg":"m","k":"v"}')
    changed.fields = {**(changed.fields or {}), "extra": "1"}
    assert compact(changed) is changed
    in_place = read('{"msg":"m","k":"v"}')
    assert in_place.fields is not None
    in_place.fields["k"] = "w"  # changed in place: the copy in ``parsed`` tells
    assert compact(in_place) is in_place
    plain = read("plain line")
    assert compact(plain) is plain and plain.parsed is None
    protocol = LogRecord(1, "from OTLP", fields={"a": "b"})
    assert compact(protocol) is protocol


QUICK_CASES = [
    '{"time": "2026-11-26T07:40:12.123Z", "level": "info", "msg": "done", "trace_id": "ab"}',
    '{"ts": 1764142812.5, "lvl": "WARN", "message": "slow", "n": 1}',
    '{"level": 50, "time": 1764142812123, "msg": "pino error"}',
    '{"level": "nonsense", "severity": "error", "msg": "second key wins"}',
    '{"level": {"name": "x"}, "severity": "warn", "msg": "nested level"}',
    '{"log": {"level": "warn"}, "@level": "info", "msg": "ECS nested first"}',
    '{"msg": "no level", "time": "2026-11-26T07:40:12Z"}',
    '{"severity_number": 17, "body": "otlp number"}',
    '{"level": "info", "time": "not a time", "timestamp": 1764142812, "msg": "second time"}',
    '{"level": "info", "t": {"s": 1}, "msg": "nested time"}',
    '{"level": "debug", "big": 123456789012345678901234567890, "msg": "big number"}',
    '{"level": "info", "msg": "unicode ✓ \\u202e"}',
    '{"level": "info"',
    '[1, 2]',
    'plain INFO text line',
    'level=warn msg="logfmt line" trace_id=abc',
]


@pytest.mark.parametrize("line", QUICK_CASES)
def test_parse_compact_equals_parse_then_compact(line: str) -> None:
    from watchdeck.core.logs.parse import compact, parse_compact

    labels = {"file": "x.log"}
    quick = parse_compact(line, source="f", seq=7, received_ns=123, labels=labels)
    full = compact(parse_line(line, source="f", seq=7, received_ns=123, labels=labels))
    assert quick == full
    assert (quick.time_ns, quick.level, quick.message, quick.fields, quick.trace_id) == (
        full.time_ns, full.level, full.message, full.fields, full.trace_id)
    given = parse_compact(line, received_ns=1, time_ns=99)
    assert given.time_ns == 99
