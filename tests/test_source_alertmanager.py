"""The Alertmanager v2 client against a real Alertmanager fed by a real Prometheus (both
Debian's), the Prometheus rules-based alerts of the same Prometheus, and the client's
answers to a backend that is down or answers garbage (a scripted server on loopback)."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.alerting import (
    EXPECTED,
    PENDING,
    RECEIVER,
    AlertingStack,
    alert_key,
    alertmanager_server,
    alertmanager_source,
    eventually,
    pushed_alert,
)
from tests.support.exporter import UNTRUSTED, Exporter
from tests.support.fake_http import FakeHTTPServer, Reply
from watchdeck.core.alerts import Alert, LabelMatcher, check_silence
from watchdeck.core.errors import (
    BadResponseError,
    ConnectError,
    HTTPStatusError,
    TimeoutError,
)
from watchdeck.core.sources.alertmanager import AlertmanagerError, AlertmanagerSource

# Needs Debian's prometheus and prometheus-alertmanager (skipped locally, failed in CI).
real = pytest.mark.prometheus

STATE = {"active": "firing", "suppressed": "inhibited"}  # EXPECTED's states in the model
AUTHOR = "watchdeck-tests"
HOUR = 3600.0


@pytest.fixture
def stack(alerting: AlertingStack) -> AlertingStack:
    return alerting  # the session's stack (conftest.py)


@pytest.fixture
async def am(stack: AlertingStack) -> AsyncIterator[AlertmanagerSource]:
    """A client of the module's Alertmanager, which shows exactly EXPECTED at the start;
    every silence a test made is expired afterwards."""
    stack.wait_settled(timeout=20)
    source = stack.alertmanager_source()
    try:
        yield source
    finally:
        await source.aclose()
        stack.alertmanager.expire_all_silences()


def by_key(alerts: list[Alert]) -> dict[tuple[str, str], Alert]:
    keyed = {alert_key(dict(alert.labels)): alert for alert in alerts}
    assert len(keyed) == len(alerts), alerts
    return keyed


def states(alerts: list[Alert]) -> dict[tuple[str, str], str]:
    return {key: alert.state for key, alert in by_key(alerts).items()}


def expected_states(**changes: str) -> dict[tuple[str, str], str]:
    """EXPECTED's states in the model, with ``changes`` ({"WDGPUBusy:gpu=2": state})."""
    out = {key: STATE[state] for key, (_, state) in EXPECTED.items()}
    for name, state in changes.items():
        out[tuple(name.split(":"))] = state  # type: ignore[index]
    return out


def keys_where(predicate) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return {key for key, (severity, state) in EXPECTED.items() if predicate(severity, state)}


# --------------------------------------------------------------------------- reads


@real
async def test_alerts_from_prometheus_carry_labels_annotations_and_state(
        am: AlertmanagerSource, stack: AlertingStack, exporter: Exporter) -> None:
    alerts = by_key(await am.alerts())
    now = time.time()
    assert set(alerts) == set(EXPECTED)
    for key, (severity, state) in EXPECTED.items():
        alert = alerts[key]
        assert alert.severity == severity, key
        assert alert.state == STATE[state], key
        assert (alert.origin, alert.source) == ("alertmanager", "am")
        assert alert.receivers == (RECEIVER[severity],), key
        assert re.fullmatch(r"[0-9a-f]{16}", alert.fingerprint or ""), alert.fingerprint
        assert alert.labels["job"] == "app" and alert.labels["instance"] == exporter.target
        assert "summary" in alert.annotations, key
        # Prometheus's startsAt (the rule's activeAt) and endsAt (resend horizon).
        assert alert.active_at is not None and now - 600 < alert.active_at <= now + 1
        assert alert.ends_at is not None and alert.ends_at > alert.active_at
        assert alert.silenced_by == ()
        # The generator URL points at the Prometheus graph of the rule's expression.
        url = urlsplit(alert.generator_url or "")
        assert url.port == stack.prometheus.port and url.path == "/graph"
        assert parse_qs(url.query)["g0.expr"][0].startswith(
            {"WDQueueCritical": "wd_queue_length > 5", "WDQueueBacklog": "wd_queue_length > 2",
             "WDErrorsSeen": "wd_requests_total", "WDGPUBusy": "wd_gpu_utilization_ratio",
             "WDUntrustedText": "wd_untrusted_info"}[alert.name])

    critical = alerts[("WDQueueCritical", "replica=a")]
    assert critical.labels == {
        "alertname": "WDQueueCritical", "severity": "critical", "team": "serving",
        "replica": "a", "job": "app", "instance": exporter.target}
    assert critical.annotations == {
        "summary": "Queue on a is 7",
        "description": "More than 5 requests wait on replica a.",
        "runbook_url": "https://runbooks.example/watchdeck/WDQueueCritical",
        "watchdeck_layout": "llm-overview"}
    assert alerts[("WDGPUBusy", "gpu=2")].annotations["summary"] == "GPU 2 is 75% busy"
    assert alerts[("WDQueueBacklog", "replica=b")].annotations["summary"] == "Backlog of 3 on b"

    # The permanent inhibition of the config: critical replica a inhibits warning replica a.
    inhibited = alerts[("WDQueueBacklog", "replica=a")]
    assert inhibited.state == "inhibited"
    assert inhibited.inhibited_by == (critical.fingerprint,)
    assert all(alert.inhibited_by == () for key, alert in alerts.items()
               if key != ("WDQueueBacklog", "replica=a"))

    # Hostile text arrives unchanged in the model; neutralising it is the display's job.
    hostile = alerts[("WDUntrustedText", "")]
    assert hostile.labels["text"] == UNTRUSTED
    assert hostile.annotations["summary"] == "untrusted: " + UNTRUSTED


@real
async def test_filters_and_state_flags_are_applied_by_alertmanager(
        am: AlertmanagerSource) -> None:
    async def keys(**query: object) -> set[tuple[str, str]]:
        return set(by_key(await am.alerts(**query)))  # type: ignore[arg-type]

    assert await keys(filters=['severity="critical"']) == keys_where(
        lambda severity, _: severity == "critical")
    assert await keys(filters=['alertname=~"WDQueue.*"', 'replica="b"']) == {
        ("WDQueueBacklog", "replica=b")}
    assert await keys(filters=['severity!="warning"', 'alertname!~"WDErr.*"']) == {
        ("WDQueueCritical", "replica=a"), ("WDUntrustedText", "")}
    assert await keys(filters=['alertname="NoSuchAlert"']) == set()
    # Regexes are anchored: "Queue" alone matches no alertname.
    assert await keys(filters=['alertname=~"Queue"']) == set()

    assert await keys(inhibited=False) == keys_where(lambda _, state: state == "active")
    assert await keys(active=False) == {("WDQueueBacklog", "replica=a")}
    assert await keys(active=False, inhibited=False) == set()
    assert await keys(unprocessed=False) == set(EXPECTED)

    assert await keys(receiver="oncall") == keys_where(lambda severity, _: severity == "critical")
    assert await keys(receiver="black.*") == keys_where(lambda severity, _: severity != "critical")
    assert await keys(receiver="nobody") == set()


@real
async def test_bad_filters_are_refused_with_alertmanagers_message(
        am: AlertmanagerSource) -> None:
    with pytest.raises(AlertmanagerError) as caught:
        await am.alerts(filters=["severity"])
    assert caught.value.status == 400
    assert "bad matcher format: severity" in str(caught.value)
    with pytest.raises(AlertmanagerError) as caught:
        await am.alerts(filters=['severity=~"("'])
    assert caught.value.status == 400 and "missing closing )" in str(caught.value)
    with pytest.raises(AlertmanagerError) as caught:
        await am.alerts(receiver="(")
    assert caught.value.status == 400 and "receiver" in str(caught.value)


@real
async def test_alert_groups_are_grouped_by_alertname(am: AlertmanagerSource) -> None:
    expected: dict[str, tuple[str, set[tuple[str, str]]]] = {}
    for key, (severity, _) in EXPECTED.items():
        expected.setdefault(key[0], (RECEIVER[severity], set()))[1].add(key)

    def summary(groups: list[dict]) -> dict[str, tuple[str, set[tuple[str, str]]]]:
        out = {}
        for group in groups:
            (name,) = group["labels"].values()
            assert group["labels"] == {"alertname": name}
            assert all(alert.name == name for alert in group["alerts"])
            out[name] = (group["receiver"], set(by_key(group["alerts"])))
        return out

    groups = await eventually(am.alert_groups, lambda groups: summary(groups) == expected,
                              timeout=10, what="alert groups")
    gpu = next(g for g in groups if g["labels"]["alertname"] == "WDGPUBusy")
    assert len(gpu["alerts"]) == 2
    backlog = next(g for g in groups if g["labels"]["alertname"] == "WDQueueBacklog")
    assert {a.state for a in backlog["alerts"]} == {"firing", "inhibited"}

    warnings = await am.alert_groups(['severity="warning"'])
    assert {g["labels"]["alertname"] for g in warnings} == {"WDQueueBacklog", "WDGPUBusy"}


@real
async def test_status_and_buildinfo_report_the_running_version(am: AlertmanagerSource,
                                                               stack: AlertingStack) -> None:
    printed = subprocess.run([stack.alertmanager.binary, "--version"], capture_output=True,
                             text=True, check=True)
    version = re.search(r"version (\S+)", printed.stdout + printed.stderr)
    assert version is not None
    info = await am.buildinfo()
    assert info["version"] == version.group(1)
    assert info["goVersion"].startswith("go")
    status = await am.status()
    assert status["cluster"]["status"] == "disabled"  # --cluster.listen-address=
    assert "blackhole" in status["config"]["original"]


# --------------------------------------------------------------------------- silences


@real
async def test_a_silence_silences_the_matched_alerts_until_it_is_expired(
        am: AlertmanagerSource) -> None:
    now = time.time()
    matchers = [LabelMatcher("alertname", "WDGPUBusy")]
    assert check_silence(matchers, now, now + HOUR, "maintenance", AUTHOR, now=now) == []
    silence_id = await am.create_silence(matchers, now, now + HOUR, AUTHOR, "maintenance")
    assert re.fullmatch(r"[0-9a-f-]{36}", silence_id), silence_id

    silenced = expected_states(**{"WDGPUBusy:gpu=2": "silenced", "WDGPUBusy:gpu=3": "silenced"})
    alerts = by_key(await eventually(am.alerts, lambda alerts: states(alerts) == silenced,
                                     what="GPU alerts silenced"))
    for key in (("WDGPUBusy", "gpu=2"), ("WDGPUBusy", "gpu=3")):
        assert alerts[key].silenced_by == (silence_id,)
        assert alerts[key].inhibited_by == ()
    assert alerts[("WDQueueBacklog", "replica=b")].silenced_by == ()

    silence = await am.silence(silence_id)
    assert silence.state == "active"
    assert silence.matchers == tuple(matchers)
    assert (silence.created_by, silence.comment) == (AUTHOR, "maintenance")
    assert abs(silence.ends_at - (now + HOUR)) < 0.01
    assert now - 1 <= silence.starts_at <= time.time() + 1
    assert [s for s in await am.silences() if s.id == silence_id] == [silence]
    assert silence.catches(alerts[("WDGPUBusy", "gpu=2")])

    hidden = set(by_key(await am.alerts(silenced=False)))
    assert hidden == set(EXPECTED) - {("WDGPUBusy", "gpu=2"), ("WDGPUBusy", "gpu=3")}

    await am.expire_silence(silence_id)
    assert (await am.silence(silence_id)).state == "expired"
    after = by_key(await eventually(am.alerts, lambda alerts: states(alerts) == expected_states(),
                                    what="GPU alerts active again"))
    assert after[("WDGPUBusy", "gpu=2")].silenced_by == ()


@real
async def test_extending_keeps_the_id_when_only_the_end_moves(am: AlertmanagerSource) -> None:
    now = time.time()
    matchers = [LabelMatcher("alertname", "WDGPUBusy"), LabelMatcher("gpu", "[23]", True)]
    silence_id = await am.create_silence(matchers, now, now + HOUR, AUTHOR, "first hour")
    silence = await am.silence(silence_id)
    # The start as Alertmanager reports it: only the end (and comment) change.
    extended = await am.create_silence(matchers, silence.starts_at, now + 2 * HOUR, AUTHOR,
                                       "two hours", silence_id=silence_id)
    assert extended == silence_id
    again = await am.silence(silence_id)
    assert again.state == "active" and again.comment == "two hours"
    assert abs(again.ends_at - (now + 2 * HOUR)) < 0.01
    assert again.starts_at == silence.starts_at
    assert [s.id for s in await am.silences() if s.state != "expired"] == [silence_id]
    silenced = expected_states(**{"WDGPUBusy:gpu=2": "silenced", "WDGPUBusy:gpu=3": "silenced"})
    alerts = await eventually(am.alerts, lambda alerts: states(alerts) == silenced)
    assert {a.silenced_by for a in alerts if a.name == "WDGPUBusy"} == {(silence_id,)}


@real
async def test_an_update_alertmanager_cannot_make_in_place_replaces_the_silence(
        am: AlertmanagerSource) -> None:
    """A start in another second than the stored one (an active silence's start compares
    by Unix second), or new matchers: Alertmanager expires the old silence and answers a
    new id, which is the one that silences the alerts from then on."""
    now = time.time()
    matchers = [LabelMatcher("alertname", "WDGPUBusy")]
    first = await am.create_silence(matchers, now, now + HOUR, AUTHOR, "first")
    started = (await am.silence(first)).starts_at
    await eventually(am.alerts, lambda alerts: {a.silenced_by for a in alerts
                                                if a.name == "WDGPUBusy"} == {(first,)})
    restart = started - 5  # in the past: the new silence starts now

    second = await am.create_silence(matchers, restart, now + 2 * HOUR, AUTHOR, "from now",
                                     silence_id=first)
    assert second != first
    assert (await am.silence(first)).state == "expired"
    assert (await am.silence(second)).state == "active"
    await eventually(am.alerts, lambda alerts: {a.silenced_by for a in alerts
                                                if a.name == "WDGPUBusy"} == {(second,)},
                     what="the new silence applied")

    narrowed = [*matchers, LabelMatcher("gpu", "3")]
    third = await am.create_silence(narrowed, restart, now + 2 * HOUR, AUTHOR, "gpu 3 only",
                                    silence_id=second)
    assert third not in (first, second)
    assert (await am.silence(second)).state == "expired"
    only_gpu3 = expected_states(**{"WDGPUBusy:gpu=3": "silenced"})
    alerts = by_key(await eventually(am.alerts, lambda alerts: states(alerts) == only_gpu3,
                                     what="only GPU 3 silenced"))
    assert alerts[("WDGPUBusy", "gpu=3")].silenced_by == (third,)
    assert {s.id: s.state for s in await am.silences() if s.id in (first, second, third)} == {
        first: "expired", second: "expired", third: "active"}

    # An expired silence cannot be revived in place either: a new id again.
    await am.expire_silence(third)
    fourth = await am.create_silence(narrowed, time.time(), now + 2 * HOUR, AUTHOR, "revived",
                                     silence_id=third)
    assert fourth != third and (await am.silence(fourth)).state == "active"


@real
async def test_a_pending_silence_silences_nothing_yet(am: AlertmanagerSource) -> None:
    now = time.time()
    silence_id = await am.create_silence([LabelMatcher("alertname", "WDGPUBusy")],
                                         now + HOUR, now + 2 * HOUR, AUTHOR, "tomorrow")
    assert (await am.silence(silence_id)).state == "pending"
    assert states(await am.alerts()) == expected_states()


@real
async def test_silencing_an_inhibited_alert_shows_it_silenced_and_says_both(
        am: AlertmanagerSource) -> None:
    now = time.time()
    matchers = [LabelMatcher("alertname", "WDQueueBacklog"), LabelMatcher("replica", "a")]
    silence_id = await am.create_silence(matchers, now, now + HOUR, AUTHOR, "both")
    wanted = expected_states(**{"WDQueueBacklog:replica=a": "silenced"})
    alerts = by_key(await eventually(am.alerts, lambda alerts: states(alerts) == wanted))
    backlog = alerts[("WDQueueBacklog", "replica=a")]
    assert backlog.silenced_by == (silence_id,)
    assert backlog.inhibited_by == (alerts[("WDQueueCritical", "replica=a")].fingerprint,)


@real
async def test_inhibition_follows_a_critical_alert_of_the_same_replica(
        am: AlertmanagerSource, stack: AlertingStack) -> None:
    target = ("WDQueueBacklog", "replica=b")
    labels = {"alertname": "WDReplicaDown", "severity": "critical", "replica": "b"}
    with pushed_alert(stack.alertmanager, labels, {"summary": "replica b is down"}):
        wanted = {**expected_states(**{"WDQueueBacklog:replica=b": "inhibited"}),
                  ("WDReplicaDown", "replica=b"): "firing"}
        alerts = by_key(await eventually(am.alerts, lambda alerts: states(alerts) == wanted,
                                         what="backlog b inhibited"))
        down = alerts[("WDReplicaDown", "replica=b")]
        assert down.receivers == ("oncall",)
        assert down.generator_url == "http://test.invalid/pushed"
        assert alerts[target].inhibited_by == (down.fingerprint,)
        assert alerts[target].silenced_by == ()
        assert set(by_key(await am.alerts(inhibited=False))) == set(EXPECTED) - {
            target, ("WDQueueBacklog", "replica=a")} | {("WDReplicaDown", "replica=b")}
    await eventually(am.alerts, lambda alerts: states(alerts) == expected_states(),
                     what="inhibition lifted once the critical alert resolved")


# --------------------------------------------------------------------------- refusals


@real
@pytest.mark.parametrize("case", ["no matchers", "end before start", "end in the past",
                                  "matches the empty label", "invalid regex"])
async def test_a_bad_silence_is_refused_with_alertmanagers_own_message(
        am: AlertmanagerSource, case: str) -> None:
    """The client does not validate (the UI runs check_silence first); sent anyway,
    Alertmanager refuses each one, and the error carries its words. Nothing is created."""
    now = time.time()
    good = [LabelMatcher("alertname", "WDGPUBusy")]
    matchers, start, end, status, words = {
        "no matchers": ([], now, now + HOUR, 422, "matchers in body should have at least 1"),
        "end before start": (good, now + 2 * HOUR, now + HOUR, 400,
                             "start time must be before end time"),
        "end in the past": (good, now - 2 * HOUR, now - HOUR, 400,
                            "end time can't be in the past"),
        "matches the empty label": ([LabelMatcher("alertname", ".*", True)], now, now + HOUR,
                                    400, "at least one matcher must not match the empty string"),
        "invalid regex": ([LabelMatcher("alertname", "(", True)], now, now + HOUR, 400,
                          "invalid regular expression"),
    }[case]
    assert check_silence(matchers, start, end, "why", AUTHOR, now=now) != []
    before = len(await am.silences())
    with pytest.raises(AlertmanagerError) as caught:
        await am.create_silence(matchers, start, end, AUTHOR, "why")
    assert caught.value.status == status
    assert words.lower() in str(caught.value).lower()
    assert str(caught.value).startswith(f"HTTP {status}: ")
    assert len(await am.silences()) == before


@real
async def test_alertmanager_025_accepts_what_only_check_silence_refuses(
        am: AlertmanagerSource) -> None:
    """An empty comment and author pass Alertmanager 0.25: check_silence is the guard."""
    now = time.time()
    matchers = [LabelMatcher("alertname", "WDGPUBusy")]
    problems = check_silence(matchers, now, now + HOUR, " ", "", now=now)
    assert any("comment" in p for p in problems) and any("author" in p for p in problems)
    silence_id = await am.create_silence(matchers, now, now + HOUR, "", "")
    assert (await am.silence(silence_id)).comment == ""


@real
async def test_unknown_silence_ids_are_clear_errors(am: AlertmanagerSource) -> None:
    unknown = str(uuid.uuid4())
    with pytest.raises(AlertmanagerError) as caught:
        await am.silence(unknown)
    assert caught.value.status == 404
    assert str(caught.value) == f"HTTP 404: silence {unknown} not found"

    now = time.time()
    with pytest.raises(AlertmanagerError) as caught:
        await am.create_silence([LabelMatcher("alertname", "X")], now, now + HOUR, AUTHOR,
                                "update of nothing", silence_id=unknown)
    assert caught.value.status == 404 and "silence not found" in str(caught.value)

    with pytest.raises(AlertmanagerError) as caught:
        await am.expire_silence(unknown)
    # 0.25 answers 500 (newer releases 404), with the same words.
    assert caught.value.status in (404, 500) and "not found" in str(caught.value)

    with pytest.raises(AlertmanagerError) as caught:
        await am.silence("not-a-uuid")
    assert caught.value.status == 422 and "must be of type uuid" in str(caught.value)
    assert [s for s in await am.silences() if s.state != "expired"] == []


@real
async def test_alertmanager_down_is_connection_refused_and_recovers(tmp_path: Path) -> None:
    with alertmanager_server(tmp_path / "am") as server:
        source = alertmanager_source(server.url)
        try:
            now = time.time()
            silence_id = await source.create_silence(
                [LabelMatcher("alertname", "X")], now, now + HOUR, AUTHOR, "survives restart")
            assert await source.alerts() == []
            server.stop()
            with pytest.raises(ConnectError, match="connection refused"):
                await source.alerts()
            with pytest.raises(ConnectError, match="connection refused") as caught:
                await source.expire_silence(silence_id)
            assert server.url in str(caught.value)
            server.start()
            assert await source.alerts() == []
            # Silences are kept in --storage.path across a restart.
            assert (await source.silence(silence_id)).state == "active"
        finally:
            await source.aclose()


# --------------------------------------------------------------------------- garbage answers


@pytest.fixture
def fake() -> Iterator[FakeHTTPServer]:
    replies: dict[tuple[str, str], Reply] = {}
    server = FakeHTTPServer(lambda method, path, body: replies.get(
        (method, path.split("?")[0]), Reply(404, b"404 page not found", "text/plain")))
    server.replies = replies  # type: ignore[attr-defined]
    yield server
    server.stop()


def reply(server: FakeHTTPServer, method: str, path: str, answer: Reply) -> None:
    server.replies[(method, path)] = answer  # type: ignore[attr-defined]


async def test_html_from_a_proxy_is_an_http_error_with_its_title(fake: FakeHTTPServer) -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    reply(fake, "GET", "/api/v2/alerts", Reply(502, html, "text/html"))
    source = alertmanager_source(fake.url)
    with pytest.raises(HTTPStatusError) as caught:
        await source.alerts()
    await source.aclose()
    assert caught.value.status == 502
    assert str(caught.value) == "HTTP 502 Bad Gateway: HTML page: 502 Bad Gateway"


@pytest.mark.parametrize("case", [
    "html with 200", "truncated json", "object instead of a list", "list of numbers",
    "alert with string labels",
])
async def test_garbage_alerts_answers_are_bad_responses(fake: FakeHTTPServer, case: str
                                                        ) -> None:
    good = json.dumps([{"labels": {"alertname": "A"}, "status": {"state": "active"}}])
    answer, words = {
        "html with 200": (Reply(200, b"<title>Login</title>", "text/html"),
                          "not JSON (text/html): HTML page: Login"),
        "truncated json": (Reply(200, good.encode()[:30]), "truncated JSON"),
        "object instead of a list": (Reply(200, b'{"data": []}'), "alerts answer is not a list"),
        "list of numbers": (Reply(200, b"[1, 2]"), "malformed alert"),
        "alert with string labels": (Reply(200, b'[{"labels": "alertname=A"}]'),
                                     "malformed alert"),
    }[case]
    reply(fake, "GET", "/api/v2/alerts", answer)
    source = alertmanager_source(fake.url)
    with pytest.raises(BadResponseError) as caught:
        await source.alerts()
    assert words in str(caught.value)
    # The same server answering properly again: the client recovers.
    reply(fake, "GET", "/api/v2/alerts", Reply(200, good.encode()))
    (alert,) = await source.alerts()
    await source.aclose()
    assert alert.name == "A" and alert.state == "firing"


async def test_garbage_in_groups_and_silences_are_bad_responses(fake: FakeHTTPServer) -> None:
    source = alertmanager_source(fake.url)
    cases = [
        ("/api/v2/alerts/groups", b'{"groups": []}', source.alert_groups, "not a list"),
        ("/api/v2/alerts/groups", b"[1]", source.alert_groups, "malformed alert group"),
        ("/api/v2/alerts/groups", b'[{"alerts": [7]}]', source.alert_groups, "malformed"),
        ("/api/v2/silences", b"{}", source.silences, "not a list"),
        ("/api/v2/silences", b'[{"matchers": []}]', source.silences, "malformed silence"),
        ("/api/v2/silences", b'[{"id": "x", "status": "active"}]', source.silences,
         "malformed silence"),
        ("/api/v2/status", b"[]", source.status, "not an object"),
    ]
    for path, body, call, words in cases:
        reply(fake, "GET", path, Reply(200, body))
        with pytest.raises(BadResponseError, match=words):
            await call()
    reply(fake, "GET", "/api/v2/silence/abc", Reply(200, b'{"status": {}}'))
    with pytest.raises(BadResponseError, match="malformed silence"):
        await source.silence("abc")
    reply(fake, "GET", "/api/v2/silence/abc", Reply(200, b'"nope"'))
    with pytest.raises(BadResponseError, match="not an object"):
        await source.silence("abc")
    await source.aclose()


async def test_a_connection_cut_mid_answer_is_a_connection_error(fake: FakeHTTPServer) -> None:
    reply(fake, "GET", "/api/v2/alerts", Reply(200, b'[{"labels": {}}]', truncate=True))
    source = alertmanager_source(fake.url)
    with pytest.raises(ConnectError, match="connection to .* failed"):
        await source.alerts()
    await source.aclose()


async def test_a_silence_post_that_times_out_is_sent_once_and_says_it_may_exist(
        fake: FakeHTTPServer) -> None:
    release = threading.Event()

    def slow(method: str, path: str, body: bytes) -> Reply:
        release.wait(10)  # longer than the client's timeout
        return Reply(200, b'{"silenceID": "late"}')

    fake.responder = slow
    source = alertmanager_source(fake.url, timeout="300ms")
    now = time.time()
    started = time.monotonic()
    try:
        with pytest.raises(TimeoutError) as caught:
            await source.create_silence([LabelMatcher("alertname", "A")], now, now + HOUR,
                                        AUTHOR, "slow")
    finally:
        release.set()
        await source.aclose()
    assert time.monotonic() - started < 5
    message = str(caught.value)
    assert "POST silences" in message and "may or may not have been made" in message
    assert [(method, path) for method, path, _, _ in fake.requests] == [
        ("POST", "/api/v2/silences")]
    body = json.loads(fake.requests[0][3])
    assert body["matchers"] == [{"name": "alertname", "value": "A", "isRegex": False,
                                 "isEqual": True}]
    assert (body["createdBy"], body["comment"]) == (AUTHOR, "slow") and "id" not in body


async def test_a_silence_post_cut_mid_answer_is_sent_once_and_says_it_may_exist(
        fake: FakeHTTPServer) -> None:
    reply(fake, "POST", "/api/v2/silences", Reply(200, b'{"silenceID": "cut"}', truncate=True))
    source = alertmanager_source(fake.url)
    now = time.time()
    try:
        with pytest.raises(ConnectError) as caught:
            await source.create_silence([LabelMatcher("alertname", "A")], now, now + HOUR,
                                        AUTHOR, "x")
    finally:
        await source.aclose()
    assert "may or may not have been made" in str(caught.value)
    assert len(fake.requests) == 1


async def test_a_refused_write_is_not_retried(fake: FakeHTTPServer) -> None:
    reply(fake, "POST", "/api/v2/silences",
          Reply(500, b'"failed to create silence: storage full"'))
    source = alertmanager_source(fake.url)
    now = time.time()
    with pytest.raises(AlertmanagerError, match="HTTP 500: failed to create silence"):
        await source.create_silence([LabelMatcher("alertname", "A")], now, now + HOUR,
                                    AUTHOR, "x")
    await source.aclose()
    assert len(fake.requests) == 1


async def test_a_silence_answer_without_an_id_is_a_bad_response(fake: FakeHTTPServer) -> None:
    reply(fake, "POST", "/api/v2/silences", Reply(200, b"{}"))
    source = alertmanager_source(fake.url)
    now = time.time()
    with pytest.raises(BadResponseError, match="did not say which silence"):
        await source.create_silence([LabelMatcher("alertname", "A")], now, now + HOUR,
                                    AUTHOR, "x")
    await source.aclose()


# --------------------------------------------------------------------------- Prometheus rules


@real
async def test_prometheus_rule_alerts_are_pending_or_firing_with_their_rule(
        stack: AlertingStack) -> None:
    source = stack.prometheus_source()
    try:
        alerts = await eventually(source.alerts, lambda alerts: {
            alert_key(dict(a.labels)) for a in alerts} == set(EXPECTED) | PENDING,
            what="Prometheus's rule alerts")
    finally:
        await source.aclose()
    keyed = by_key(alerts)
    for key in EXPECTED:
        alert = keyed[key]
        assert alert.state == "firing", key  # Prometheus knows nothing of inhibition
        assert (alert.origin, alert.source) == ("prometheus", "prom")
        assert alert.rule_for == 0.0
        assert alert.active_at is not None and alert.active_at <= time.time()
    critical = keyed[("WDQueueCritical", "replica=a")]
    assert critical.rule_expr == "wd_queue_length > 5"
    assert critical.value is not None and float(critical.value) == 7.0
    assert critical.annotations["summary"] == "Queue on a is 7"
    assert critical.labels["severity"] == "critical"
    assert keyed[("WDErrorsSeen", "code=500")].rule_expr == 'wd_requests_total{code="500"} > 0'

    pending = keyed[("WDGPUSaturated", "gpu=3")]
    assert pending.state == "pending"
    assert pending.rule_for == HOUR
    assert pending.rule_expr == "wd_gpu_utilization_ratio >= 1"
    assert pending.annotations["summary"] == "GPU 3 saturated for an hour"
    # A pending alert never reaches Alertmanager.
    assert "WDGPUSaturated" not in {a["labels"]["alertname"]
                                    for a in stack.alertmanager.alerts()}
