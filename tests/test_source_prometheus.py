"""The Prometheus client over real sockets: errors, size caps, auth, headers and TLS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_http import FakeHTTPServer, Reply
from tests.support.prometheus import PrometheusServer
from tests.support.tls import make_certificates, server_tls
from watchdeck.core.config.models import PrometheusSourceConfig
from watchdeck.core.config.types import convert
from watchdeck.core.errors import (
    BadResponseError,
    ConnectError,
    HTTPStatusError,
    QueryError,
    ResponseTooLargeError,
    SourceConfigError,
)
from watchdeck.core.sources.prometheus import PrometheusSource

MATRIX = {
    "status": "success",
    "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "up", "job": "a"}, "values": [[1, "1"], [2, "NaN"], [3, "+Inf"]]},
    ]},
    "warnings": ["partial response"],
}


def source(url: str, **settings: object) -> PrometheusSource:
    config = convert(PrometheusSourceConfig, {"type": "prometheus", "url": url, **settings})
    return PrometheusSource("prom", config, Path.cwd())


@pytest.fixture
def server() -> Iterator[FakeHTTPServer]:
    replies: dict[str, Reply] = {}
    fake = FakeHTTPServer(lambda method, path, body: replies.get(
        path.split("?")[0], Reply(404, b"404 page not found", "text/plain")))
    fake.replies = replies  # type: ignore[attr-defined]
    yield fake
    fake.stop()


def set_reply(server: FakeHTTPServer, path: str, reply: Reply) -> None:
    server.replies[path] = reply  # type: ignore[attr-defined]


async def test_range_query_parses_values_and_warnings(server: FakeHTTPServer) -> None:
    set_reply(server, "/api/v1/query_range", Reply(body=json.dumps(MATRIX).encode()))
    prom = source(server.url)
    result = await prom.query_range("up", 0, 3, 1)
    await prom.aclose()
    (series,) = result.series
    assert series.labels == {"__name__": "up", "job": "a"}
    assert series.timestamps == (1.0, 2.0, 3.0)
    assert series.values[0] == 1.0 and series.values[1] != series.values[1]
    assert series.values[2] == float("inf")
    assert result.warnings == ("partial response",)
    method, path, _, body = server.requests[0]
    assert method == "POST" and path == "/api/v1/query_range"
    assert b"query=up" in body and b"step=1" in body


async def test_prometheus_error_json_becomes_a_typed_error(server: FakeHTTPServer) -> None:
    body = {"status": "error", "errorType": "bad_data",
            "error": 'invalid parameter "query": 1:5: parse error: unclosed left parenthesis'}
    set_reply(server, "/api/v1/query", Reply(400, json.dumps(body).encode()))
    prom = source(server.url)
    with pytest.raises(QueryError) as caught:
        await prom.query("sum(")
    await prom.aclose()
    assert caught.value.error_type == "bad_data"
    assert caught.value.status == 400
    assert "unclosed left parenthesis" in str(caught.value)


async def test_html_from_a_proxy_is_a_clear_error(server: FakeHTTPServer) -> None:
    html = b"<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>"
    set_reply(server, "/api/v1/query", Reply(502, html, "text/html"))
    prom = source(server.url)
    with pytest.raises(HTTPStatusError) as caught:
        await prom.query("up")
    await prom.aclose()
    assert caught.value.status == 502
    assert "HTTP 502" in str(caught.value) and "502 Bad Gateway" in str(caught.value)
    assert "<html>" not in str(caught.value)


async def test_html_with_status_200_is_a_bad_response(server: FakeHTTPServer) -> None:
    set_reply(server, "/api/v1/query", Reply(200, b"<title>Login</title>", "text/html"))
    prom = source(server.url)
    with pytest.raises(BadResponseError, match="expected JSON.*text/html.*Login"):
        await prom.query("up")
    await prom.aclose()


async def test_truncated_json_is_a_clear_error(server: FakeHTTPServer) -> None:
    whole = json.dumps(MATRIX).encode()
    set_reply(server, "/api/v1/query_range", Reply(200, whole[: len(whole) // 2]))
    prom = source(server.url)
    with pytest.raises(BadResponseError, match="truncated JSON"):
        await prom.query_range("up", 0, 3, 1)
    await prom.aclose()


async def test_a_connection_cut_mid_body_is_a_clear_error(server: FakeHTTPServer) -> None:
    set_reply(server, "/api/v1/query", Reply(200, b'{"status":"succ', truncate=True))
    prom = source(server.url)
    with pytest.raises((ConnectError, BadResponseError)) as caught:
        await prom.query("up")
    await prom.aclose()
    assert str(caught.value)


async def test_a_body_over_the_cap_is_refused(server: FakeHTTPServer) -> None:
    huge = {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"i": str(i)}, "values": [[t, "1"] for t in range(50)]} for i in range(200)]}}
    set_reply(server, "/api/v1/query_range", Reply(200, json.dumps(huge).encode()))
    prom = source(server.url, max_response_bytes=4096)
    with pytest.raises(ResponseTooLargeError, match="4,096-byte cap"):
        await prom.query_range("up", 0, 50, 1)
    await prom.aclose()


async def test_valid_json_of_the_wrong_shape(server: FakeHTTPServer) -> None:
    set_reply(server, "/api/v1/query", Reply(200, b'{"hello": "world"}'))
    prom = source(server.url)
    with pytest.raises(BadResponseError, match="not a Prometheus API response"):
        await prom.query("up")
    set_reply(server, "/api/v1/query", Reply(200, b'{"status":"success","data":{"resultType":'
                                                   b'"matrix","result":[{"metric":{},"values":'
                                                   b'[["x"]]}]}}'))
    with pytest.raises(BadResponseError, match="malformed matrix"):
        await prom.query("up")
    await prom.aclose()


async def test_refused_connection_says_so() -> None:
    from tests.support.net import free_port

    prom = source(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ConnectError, match="connection refused"):
        await prom.query("up")
    await prom.aclose()


async def test_headers_bearer_token_from_env_and_tenant(server: FakeHTTPServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    set_reply(server, "/api/v1/labels", Reply(body=b'{"status":"success","data":["job"]}'))
    monkeypatch.setenv("WD_TEST_TOKEN", "s3cret-token")
    prom = source(server.url, headers={"X-Scope-OrgID": "team-a"},
                  auth={"bearer_token_env": "WD_TEST_TOKEN"})
    assert await prom.label_names() == ["job"]
    await prom.aclose()
    headers = {k.lower(): v for k, v in server.requests[-1][2].items()}
    assert headers["authorization"] == "Bearer s3cret-token"
    assert headers["x-scope-orgid"] == "team-a"


async def test_missing_token_env_is_a_config_error_without_the_secret(
        server: FakeHTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WD_TEST_TOKEN", raising=False)
    prom = source(server.url, auth={"bearer_token_env": "WD_TEST_TOKEN"})
    with pytest.raises(SourceConfigError, match="WD_TEST_TOKEN is not set"):
        await prom.query("up")
    await prom.aclose()
    assert server.requests == []  # nothing was sent without credentials


async def test_token_file_is_reread_when_rotated(server: FakeHTTPServer, tmp_path: Path) -> None:
    set_reply(server, "/api/v1/labels", Reply(body=b'{"status":"success","data":[]}'))
    token = tmp_path / "token"
    token.write_text("first\n")
    prom = source(server.url, auth={"bearer_token_file": str(token)})
    await prom.label_names()
    token.write_text("second-and-longer\n")
    await prom.label_names()
    await prom.aclose()
    sent = [{k.lower(): v for k, v in r[2].items()}["authorization"] for r in server.requests]
    assert sent == ["Bearer first", "Bearer second-and-longer"]


async def test_basic_auth_from_password_file(server: FakeHTTPServer, tmp_path: Path) -> None:
    import base64

    set_reply(server, "/api/v1/labels", Reply(body=b'{"status":"success","data":[]}'))
    password = tmp_path / "password"
    password.write_text("hunter2")
    prom = source(server.url, auth={"username": "ops", "password_file": str(password)})
    await prom.label_names()
    await prom.aclose()
    header = {k.lower(): v for k, v in server.requests[-1][2].items()}["authorization"]
    assert header == "Basic " + base64.b64encode(b"ops:hunter2").decode()


async def test_label_values_escapes_utf8_label_names(server: FakeHTTPServer) -> None:
    # Prometheus value-encoding escaping: U__ prefix, "." -> _2e_, "_" -> __.
    set_reply(server, "/api/v1/label/U__http_2e_status__code/values",
              Reply(body=b'{"status":"success","data":["200","500"]}'))
    prom = source(server.url)
    assert await prom.label_values("http.status_code") == ["200", "500"]
    await prom.aclose()


# ------------------------------------------------------------------ TLS


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate (openssl)."""
    made = make_certificates(tmp_path_factory.mktemp("tls"))
    if made is None:
        pytest.skip("openssl is not installed")
    return made


@pytest.fixture
def tls_server(certificates: dict[str, Path]) -> Iterator[FakeHTTPServer]:
    fake = FakeHTTPServer(lambda m, p, b: Reply(body=b'{"status":"success","data":["job"]}'))
    context = server_tls(certificates)  # mutual TLS
    fake.server.socket = context.wrap_socket(fake.server.socket, server_side=True)
    yield fake
    fake.stop()


async def test_tls_with_ca_file_and_client_certificate(tls_server: FakeHTTPServer,
                                                       certificates: dict[str, Path]) -> None:
    url = tls_server.url.replace("http://", "https://")
    prom = source(url, tls={"ca_file": str(certificates["ca.pem"]),
                            "cert_file": str(certificates["client.pem"]),
                            "key_file": str(certificates["client.key"])})
    assert await prom.label_names() == ["job"]
    await prom.aclose()


async def test_tls_without_the_ca_is_refused_with_a_hint(tls_server: FakeHTTPServer,
                                                         certificates: dict[str, Path]) -> None:
    url = tls_server.url.replace("http://", "https://")
    prom = source(url, tls={"cert_file": str(certificates["client.pem"]),
                            "key_file": str(certificates["client.key"])})
    with pytest.raises(ConnectError, match="not trusted"):
        await prom.label_names()
    await prom.aclose()


async def test_tls_insecure_skip_verify_only_when_asked(tls_server: FakeHTTPServer,
                                                        certificates: dict[str, Path]) -> None:
    url = tls_server.url.replace("http://", "https://")
    prom = source(url, tls={"insecure_skip_verify": True,
                            "cert_file": str(certificates["client.pem"]),
                            "key_file": str(certificates["client.key"])})
    assert await prom.label_names() == ["job"]
    await prom.aclose()


async def test_unreadable_ca_file_is_a_config_error(tmp_path: Path) -> None:
    prom = source("https://127.0.0.1:1", tls={"ca_file": str(tmp_path / "missing.pem")})
    with pytest.raises(SourceConfigError, match="ca_file"):
        await prom.query("up")
    await prom.aclose()


# ------------------------------------------------------------------ real Prometheus


@pytest.mark.prometheus
async def test_against_real_prometheus(prometheus: PrometheusServer) -> None:
    prom = source(prometheus.url)
    info = await prom.buildinfo()
    assert info["version"].startswith(("2.", "3."))
    assert "job" in await prom.label_names()
    assert set(await prom.label_values("replica", ["wd_queue_length"])) == {"a", "b"}
    series = await prom.series(["wd_gpu_utilization_ratio"])
    assert sorted(s["gpu"] for s in series) == ["0", "1", "2", "3"]
    vector = await prom.query("wd_queue_length")
    assert {s.labels["replica"]: s.values[0] for s in vector.series} == {"a": 7.0, "b": 3.0}
    scalar = await prom.query("scalar(sum(wd_queue_length))")
    assert scalar.result_type == "scalar" and scalar.series[0].values == (10.0,)
    with pytest.raises(QueryError) as caught:
        await prom.query_range("up", 0, 100000, 1)  # more than 11,000 points
    assert "11,000 points" in str(caught.value)
    await prom.aclose()
