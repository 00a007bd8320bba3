"""The alert and silence model: label matchers (the ``/`` filter and silences), the checks
made before a silence is sent, Go timestamps, and alerts from ``/api/v1/rules`` and from
Alertmanager's answers (shapes of newer releases than the one the server tests run)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from watchdeck.core.alerts import (
    Alert,
    LabelMatcher,
    Silence,
    alerts_from_rules,
    check_silence,
    format_time,
    matches_all,
    parse_matchers,
    parse_time,
    severity_rank,
)
from watchdeck.core.sources.alertmanager import parse_alert, parse_silence

M = LabelMatcher
NOW = 1_795_000_000.0
HOUR = 3600.0

# --------------------------------------------------------------------------- parse_matchers


@pytest.mark.parametrize("text, expected", [
    ('severity="critical",model=~"llama.*"',
     [M("severity", "critical"), M("model", "llama.*", is_regex=True)]),
    ("severity=critical", [M("severity", "critical")]),
    ('a!="x", b!~"y|z" ,c = "w"',
     [M("a", "x", is_equal=False), M("b", "y|z", True, False), M("c", "w")]),
    ('  {alertname="A", job=~"api.*"}  ', [M("alertname", "A"), M("job", "api.*", True)]),
    ("model=~llama.*,replica!=b", [M("model", "llama.*", True), M("replica", "b", False, False)]),
    ('a="b",', [M("a", "b")]),
    ('a=""', [M("a", "")]),
    ("a=", [M("a", "")]),
    ('a="x,y z"', [M("a", "x,y z")]),  # commas and spaces inside quotes
    ("a==b", [M("a", "=b")]),  # as Alertmanager reads it: the value is "=b"
    ("", []),
    ("{}", []),
    ("   ", []),
])
def test_parse_matchers(text: str, expected: list[LabelMatcher]) -> None:
    assert parse_matchers(text) == expected


@pytest.mark.parametrize("quoted, value", [
    (r'"say \"hi\""', 'say "hi"'),
    (r'"back\\slash"', "back\\slash"),
    (r'"two\nlines"', "two\nlines"),
    # Any other backslash stays, so regexes reach Alertmanager as typed.
    (r'"10\.0\.0\.\d+"', r"10\.0\.0\.\d+"),
    (r'"\bword\b"', r"\bword\b"),
    (r'"tab\tkept"', r"tab\tkept"),
    ('"café ✓ 模型"', "café ✓ 模型"),  # not mangled as Latin-1
    (r'"\\."', r"\."),
])
def test_parse_matchers_unescapes_like_alertmanager(quoted: str, value: str) -> None:
    (matcher,) = parse_matchers(f"v=~{quoted}")
    assert matcher.value == value


def test_parse_matchers_does_not_warn_on_regex_escapes(recwarn: pytest.WarningsRecorder
                                                       ) -> None:
    parse_matchers(r'instance=~"10\.0\..*"')
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]


@pytest.mark.parametrize("matcher", [
    M("a", 'say "hi"'), M("a", "back\\slash"), M("a", r"10\.0\..*", True),
    M("a", "x,y", False, False), M("a", "", True, False),
])
def test_a_matcher_reads_back_from_its_text(matcher: LabelMatcher) -> None:
    assert parse_matchers(str(matcher)) == [matcher]


@pytest.mark.parametrize("text, column, words", [
    ('severity="critical" model="x"', 21, "expected ','"),
    ("a=b c=d", 5, "expected ','"),
    ('a=b"c"', 1, "cannot read a matcher"),
    ('a="b",,c="d"', 7, "cannot read a matcher"),
    ('1a="b"', 1, "cannot read a matcher"),
    ('a="b", 1a="c"', 8, "cannot read a matcher"),
    ('a="unterminated', 1, "cannot read a matcher"),
    ('a="b",c', 7, "cannot read a matcher"),
    ('a~"b"', 1, "cannot read a matcher"),
    ('  {a="b" c="d"}', 10, "expected ','"),  # columns count in the text as typed
])
def test_parse_matchers_errors_name_the_column(text: str, column: int, words: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_matchers(text)
    message = str(caught.value)
    assert words in message and f"column {column}" in message, message


def test_parse_matchers_error_shows_the_text_it_stopped_at() -> None:
    with pytest.raises(ValueError, match=r"""column 9: '1b="c"'"""):
        parse_matchers('a="b" , 1b="c"')
    with pytest.raises(ValueError, match=r"""after 'severity="critical"'"""):
        parse_matchers('severity="critical" model="x"')


def test_parse_matchers_refuses_an_invalid_regex() -> None:
    with pytest.raises(ValueError, match=r"invalid regular expression '\('"):
        parse_matchers('model=~"("')
    # The same text is fine as an equality matcher.
    assert parse_matchers('model="("') == [M("model", "(")]


# --------------------------------------------------------------------------- LabelMatcher

LABELS = {"alertname": "HighLatency", "model": "llama-3-8b", "severity": "critical", "e": ""}


@pytest.mark.parametrize("matcher, matches", [
    (M("severity", "critical"), True),
    (M("severity", "crit"), False),
    (M("severity", "critical", is_equal=False), False),
    (M("severity", "warning", is_equal=False), True),
    (M("model", "llama.*", is_regex=True), True),
    (M("model", "llama", is_regex=True), False),  # anchored at both ends
    (M("model", "3-8b", is_regex=True), False),
    (M("model", ".*3-8b", is_regex=True), True),
    (M("model", "mistral|llama-3-8b", is_regex=True), True),  # alternation inside the anchors
    (M("model", "llama.*", is_regex=True, is_equal=False), False),
    (M("model", "mistral.*", is_regex=True, is_equal=False), True),
    # A missing label reads as the empty value, as in Alertmanager.
    (M("team", ""), True),
    (M("team", "x", is_equal=False), True),
    (M("team", ".*", is_regex=True), True),
    (M("team", ".+", is_regex=True), False),
    (M("e", ""), True),
    (M("e", "", is_equal=False), False),
])
def test_label_matcher_operators(matcher: LabelMatcher, matches: bool) -> None:
    assert matcher.matches(LABELS) is matches


def test_matcher_ops_text_and_matches_all() -> None:
    assert [m.op for m in (M("a", "b"), M("a", "b", False, False), M("a", "b", True),
                           M("a", "b", True, False))] == ["=", "!=", "=~", "!~"]
    assert str(M("model", 'q"\\', True, False)) == 'model!~"q\\"\\\\"'
    assert matches_all([M("severity", "critical"), M("model", "llama.*", True)], LABELS)
    assert not matches_all([M("severity", "critical"), M("model", "x")], LABELS)
    assert matches_all([], LABELS)


def test_matcher_check_refuses_bad_names_and_regexes() -> None:
    with pytest.raises(ValueError, match="bad label name"):
        M("bad-name", "x").check()
    with pytest.raises(ValueError, match="bad label name"):
        M("", "x").check()
    with pytest.raises(ValueError, match="invalid regular expression"):
        M("a", "[", True).check()
    M("a", "[", False).check()  # not a regex: any value


# --------------------------------------------------------------------------- check_silence

GOOD = [M("alertname", "HighLatency")]


def problems(matchers: list[LabelMatcher] = GOOD, start: float = NOW, end: float = NOW + HOUR,
             comment: str = "deploy, INC-42", author: str = "alice") -> list[str]:
    return check_silence(matchers, start, end, comment, author, now=NOW)


def test_a_good_silence_has_no_problems() -> None:
    assert problems() == []
    assert problems(start=NOW + HOUR, end=NOW + 2 * HOUR) == []  # pending is fine
    assert problems([M("alertname", "x"), M("team", ".*", True)]) == []  # one must not match ""


@pytest.mark.parametrize("change, words", [
    ({"matchers": []}, "at least one matcher"),
    ({"comment": ""}, "a comment is required"),
    ({"comment": "  \t "}, "a comment is required"),
    ({"author": ""}, "the author is required"),
    ({"author": "  "}, "the author is required"),
    ({"start": NOW + HOUR, "end": NOW + 1}, "the end must be after the start"),
    ({"end": NOW}, "the end must be after the start"),
    ({"start": NOW - 2 * HOUR, "end": NOW - HOUR}, "the end must be in the future"),
    ({"matchers": [M("model", "(", True)]}, "invalid regular expression"),
    ({"matchers": [M("bad-name", "x")]}, "bad label name"),
    ({"matchers": [M("alertname", ".*", True)]}, "must not match an empty or missing label"),
    ({"matchers": [M("team", "")]}, "must not match an empty or missing label"),
    ({"matchers": [M("team", "x", is_equal=False), M("job", "a|", True)]},
     "must not match an empty or missing label"),
])
def test_check_silence_refuses(change: dict, words: str) -> None:
    found = problems(**change)
    assert any(words in problem for problem in found), found


def test_check_silence_lists_every_problem_and_survives_a_bad_regex() -> None:
    found = check_silence([M("a", "(", True), M("b", ".*", True)], NOW, NOW - 1, "", "",
                          now=NOW)
    assert len(found) == 5, found  # regex, comment, author, end <= start, end in the past


# --------------------------------------------------------------------------- time


@pytest.mark.parametrize("text, expected", [
    ("2026-03-11T12:48:38.413Z", datetime(2026, 3, 11, 12, 48, 38, tzinfo=timezone.utc)
     .timestamp() + 0.413),
    ("2026-11-26T05:51:01.249894961Z", datetime(2026, 11, 26, 5, 51, 1, tzinfo=timezone.utc)
     .timestamp() + 0.249894961),
    ("2018-07-04T20:27:12.60602144+02:00", datetime(2018, 7, 4, 18, 27, 12,
                                                    tzinfo=timezone.utc).timestamp()
     + 0.60602144),
    ("2018-07-04T10:27:12.5-08:00", datetime(2018, 7, 4, 18, 27, 12, tzinfo=timezone.utc)
     .timestamp() + 0.5),
    ("2063-01-01T00:00:00Z", datetime(2063, 1, 1, tzinfo=timezone.utc).timestamp()),
    ("2024-02-29T23:59:59+05:30", datetime(2024, 2, 29, 18, 29, 59, tzinfo=timezone.utc)
     .timestamp()),
    ("0001-01-01T00:00:00Z", datetime(1, 1, 1, tzinfo=timezone.utc).timestamp()),  # Go's zero
])
def test_parse_time_reads_gos_rfc3339nano(text: str, expected: float) -> None:
    assert parse_time(text) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("text", [None, "", "yesterday", "2026-03-11 12:48:38Z",
                                  "2026-03-11T12:48:38", "1710161318", "2026-03-11T12:48Z"])
def test_parse_time_of_something_else_is_none(text: str | None) -> None:
    assert parse_time(text) is None


def test_format_time_is_what_alertmanager_reads() -> None:
    stamp = datetime(2026, 8, 22, 10, 0, 0, 123456, tzinfo=timezone.utc).timestamp()
    assert format_time(stamp) == "2026-08-22T10:00:00.123Z"
    assert parse_time(format_time(stamp)) == pytest.approx(stamp, abs=1e-3)


# --------------------------------------------------------------------------- rule alerts

# Prometheus's documented /api/v1/rules example (shared/fixtures/prometheus/
# rules_response.json, from the Prometheus docs), the "data" part.
RULES_DOC = json.loads("""
{
  "groups": [
    {
      "rules": [
        {
          "alerts": [
            {
              "activeAt": "2018-07-04T20:27:12.60602144+02:00",
              "annotations": {"summary": "High request latency"},
              "labels": {"alertname": "HighRequestLatency", "severity": "page"},
              "state": "firing",
              "value": "1e+00"
            }
          ],
          "annotations": {"summary": "High request latency"},
          "duration": 600,
          "health": "ok",
          "labels": {"severity": "page"},
          "name": "HighRequestLatency",
          "query": "job:request_latency_seconds:mean5m{job=\\"myjob\\"} > 0.5",
          "type": "alerting"
        },
        {
          "health": "ok",
          "name": "job:http_inprogress_requests:sum",
          "query": "sum by (job) (http_inprogress_requests)",
          "type": "recording"
        }
      ],
      "file": "/rules.yaml",
      "interval": 60,
      "limit": 0,
      "name": "example"
    }
  ]
}
""")

# What Debian's Prometheus 2.42 answers (newer fields: state, keepFiringFor,
# evaluationTime, lastEvaluation), with a pending alert and a rule with no alerts.
RULES_242 = {"groups": [{"name": "g", "file": "/tmp/r.yml", "interval": 1, "limit": 0, "rules": [
    {"state": "pending", "name": "Saturated", "query": "gpu >= 1", "duration": 3600,
     "keepFiringFor": 0, "labels": {"severity": "critical"},
     "annotations": {"summary": "GPU {{ $labels.gpu }}"},
     "alerts": [{"labels": {"alertname": "Saturated", "gpu": "3", "severity": "critical"},
                 "annotations": {"summary": "GPU 3"}, "state": "pending",
                 "activeAt": "2026-11-26T05:51:01.249894961Z", "value": "1e+00"}],
     "health": "ok", "evaluationTime": 0.0005, "lastEvaluation": "2026-11-26T05:51:02Z",
     "type": "alerting"},
    {"state": "inactive", "name": "Quiet", "query": "up == 0", "duration": 0,
     "labels": {}, "annotations": {}, "alerts": [], "health": "ok", "type": "alerting"},
]}]}


def test_alerts_from_the_documented_rules_answer() -> None:
    (alert,) = alerts_from_rules(RULES_DOC, "prom", "prometheus")
    assert alert == Alert(
        labels={"alertname": "HighRequestLatency", "severity": "page"},
        annotations={"summary": "High request latency"},
        state="firing",
        active_at=pytest.approx(datetime(2018, 7, 4, 18, 27, 12, tzinfo=timezone.utc)
                                .timestamp() + 0.60602144, abs=1e-6),
        value="1e+00",
        source="prom", origin="prometheus",
        rule_expr='job:request_latency_seconds:mean5m{job="myjob"} > 0.5',
        rule_for=600.0,
    )
    assert alert.name == "HighRequestLatency" and alert.severity == "page"
    assert severity_rank(alert.severity) == severity_rank("error") < severity_rank("warning")


def test_alerts_from_rules_keep_pending_and_the_rule() -> None:
    (alert,) = alerts_from_rules(RULES_242, "engine", "engine")
    assert alert.state == "pending" and alert.rule_for == 3600.0
    assert alert.rule_expr == "gpu >= 1" and alert.origin == "engine"
    assert alert.labels["gpu"] == "3" and alert.value == "1e+00"
    assert alert.fingerprint is None and alert.silenced_by == ()
    assert alert.age(now=alert.active_at + 90) == pytest.approx(90)  # type: ignore[operator]


@pytest.mark.parametrize("data", [None, [], {}, {"groups": {}}, {"groups": "x"}])
def test_alerts_from_a_malformed_rules_answer_is_a_value_error(data: object) -> None:
    with pytest.raises(ValueError, match="without groups"):
        alerts_from_rules(data, "prom", "prometheus")


def test_alerts_from_rules_tolerate_missing_fields() -> None:
    data = {"groups": [{"rules": [{"type": "alerting", "alerts": [{"labels": {"a": 1}}]}]},
                       {"name": "empty"}]}
    (alert,) = alerts_from_rules(data, "prom", "prometheus")
    assert alert.labels == {"a": "1"} and alert.state == "firing"
    assert alert.rule_expr is None and alert.rule_for == 0.0 and alert.active_at is None


# --------------------------------------------------------------------------- Alertmanager shapes

# One alert of shared/fixtures/alertmanager/v0.31.0_api_v2_alerts_groups.json (karma's
# capture of a real v0.31.0): suppressed by a silence, with v0.28+'s mutedBy.
AM_031_ALERT = {
    "annotations": {"help": "Example help annotation", "summary": "Example summary",
                    "url": "http://localhost/example.html"},
    "endsAt": "2026-03-11T12:54:18.427Z",
    "fingerprint": "54c2f185e49cfccb",
    "receivers": [{"name": "by-cluster-service"}, {"name": "by-name"}],
    "startsAt": "2026-03-11T12:48:38.413Z",
    "status": {"inhibitedBy": [], "mutedBy": [],
               "silencedBy": ["810ccf7f-c957-474a-b383-7e76d66a4d3b"], "state": "suppressed"},
    "updatedAt": "2026-03-11T12:49:18.427Z",
    "generatorURL": "http://localhost/prometheus",
    "labels": {"alertname": "HTTP_Probe_Failed", "cluster": "dev", "instance": "web1",
               "job": "node_exporter"},
}
AM_031_SILENCE = {
    "id": "810ccf7f-c957-474a-b383-7e76d66a4d3b", "status": {"state": "active"},
    "updatedAt": "2026-03-11T12:48:38.409Z", "comment": "Silenced instance",
    "createdBy": "john@example.com", "endsAt": "2063-01-01T00:00:00.000Z",
    "matchers": [{"isEqual": True, "isRegex": False, "name": "instance", "value": "web1"}],
    "startsAt": "2026-03-11T12:48:38.409Z",
}


def test_parse_alert_of_a_newer_alertmanager() -> None:
    alert = parse_alert(AM_031_ALERT, "am")
    assert alert.state == "silenced"
    assert alert.silenced_by == ("810ccf7f-c957-474a-b383-7e76d66a4d3b",)
    assert alert.receivers == ("by-cluster-service", "by-name")
    assert alert.fingerprint == "54c2f185e49cfccb"
    assert alert.generator_url == "http://localhost/prometheus"
    assert alert.active_at == pytest.approx(parse_time("2026-03-11T12:48:38.413Z"))
    assert alert.ends_at == pytest.approx(parse_time("2026-03-11T12:54:18.427Z"))
    silence = parse_silence(AM_031_SILENCE)
    assert silence == Silence(
        id="810ccf7f-c957-474a-b383-7e76d66a4d3b", matchers=(M("instance", "web1"),),
        starts_at=pytest.approx(parse_time("2026-03-11T12:48:38.409Z")),  # type: ignore[arg-type]
        ends_at=pytest.approx(parse_time("2063-01-01T00:00:00.000Z")),  # type: ignore[arg-type]
        created_by="john@example.com", comment="Silenced instance", state="active",
        updated_at=pytest.approx(parse_time("2026-03-11T12:48:38.409Z")),  # type: ignore[arg-type]
    )
    assert silence.catches(alert)


@pytest.mark.parametrize("status, state", [
    ({"state": "active", "silencedBy": [], "inhibitedBy": []}, "firing"),
    ({"state": "unprocessed", "silencedBy": [], "inhibitedBy": []}, "firing"),
    ({"state": "suppressed", "silencedBy": [], "inhibitedBy": ["aa"]}, "inhibited"),
    ({"state": "suppressed", "silencedBy": ["s"], "inhibitedBy": ["aa"]}, "silenced"),
    # Muted by a time interval only (v0.28+): suppressed, neither silenced nor inhibited.
    ({"state": "suppressed", "silencedBy": [], "inhibitedBy": [], "mutedBy": ["weekend"]},
     "silenced"),
    ({}, "firing"),  # 0.25 always sends a status; be lenient when one does not
])
def test_alertmanager_states_in_the_model(status: dict, state: str) -> None:
    assert parse_alert({"labels": {"alertname": "A"}, "status": status}, "am").state == state


def test_a_matcher_without_is_equal_defaults_to_equal() -> None:
    raw = {**AM_031_SILENCE, "matchers": [{"name": "job", "value": "api.*", "isRegex": True}]}
    assert parse_silence(raw).matchers == (M("job", "api.*", True, True),)
