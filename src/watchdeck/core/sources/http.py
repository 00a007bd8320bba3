"""Shared HTTP plumbing for backend clients: auth, TLS, headers, timeouts, size caps.

Every request goes through :meth:`HTTPClient.request`, which reads the body in chunks and
stops at the configured cap, and turns transport failures into typed errors. Secrets are
read from env vars or files at request time (so a rotated token file is picked up) and
never appear in an error message.
"""

from __future__ import annotations

import base64
import errno
import os
import re
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from watchdeck import __version__
from watchdeck.core.config.models import AuthConfig, HTTPSourceConfig, TLSConfig
from watchdeck.core.errors import (
    ConnectError,
    ConnectionLostError,
    HTTPStatusError,
    ResponseTooLargeError,
    SourceConfigError,
    SourceError,
    TimeoutError,
)
from watchdeck.core.paths import expand
from watchdeck.core.safe import sanitize


@dataclass(frozen=True, slots=True)
class HTTPResponse:
    status: int
    content_type: str
    body: bytes
    elapsed: float


class _SecretFile:
    """A secret kept in a file, re-read when the file changes (rotated tokens)."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        self._stamp: tuple[int, int] | None = None
        self._value = ""

    def read(self) -> str:
        try:
            stat = self.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                self._value = self.path.read_text(encoding="utf-8").strip()
                self._stamp = stamp
        except OSError as error:
            raise SourceConfigError(
                f"cannot read {self.what} file {self.path}: {error.strerror or error}"
            ) from None
        return self._value


def _env(name: str, what: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise SourceConfigError(f"{what} env var {name} is not set")
    return value


class Credentials:
    def __init__(self, auth: AuthConfig | None, base_dir: Path) -> None:
        self.auth = auth
        self.token_file = (
            _SecretFile(expand(auth.bearer_token_file, base_dir), "bearer token")
            if auth and auth.bearer_token_file else None
        )
        self.password_file = (
            _SecretFile(expand(auth.password_file, base_dir), "password")
            if auth and auth.password_file else None
        )

    def header(self) -> str | None:
        auth = self.auth
        if auth is None:
            return None
        if auth.bearer_token_env:
            return f"Bearer {_env(auth.bearer_token_env, 'bearer token')}"
        if self.token_file is not None:
            return f"Bearer {self.token_file.read()}"
        if auth.username:
            if auth.password_env:
                password = _env(auth.password_env, "password")
            else:
                assert self.password_file is not None
                password = self.password_file.read()
            raw = f"{auth.username}:{password}".encode()
            return f"Basic {base64.b64encode(raw).decode('ascii')}"
        return None


def ssl_context(tls: TLSConfig | None, base_dir: Path) -> ssl.SSLContext | bool:
    if tls is None:
        return True
    if tls.insecure_skip_verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    else:
        try:
            context = ssl.create_default_context(
                cafile=str(expand(tls.ca_file, base_dir)) if tls.ca_file else None
            )
        except (OSError, ssl.SSLError) as error:
            raise SourceConfigError(f"cannot load ca_file {tls.ca_file}: {error}") from None
    if tls.cert_file:
        cert = expand(tls.cert_file, base_dir)
        key = expand(tls.key_file, base_dir) if tls.key_file else None
        try:
            context.load_cert_chain(str(cert), str(key) if key else None)
        except (OSError, ssl.SSLError) as error:
            raise SourceConfigError(f"cannot load cert_file {tls.cert_file}: {error}") from None
    return context


_HTML_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def body_excerpt(body: bytes, limit: int = 160) -> str:
    """A short, safe description of a body that is not what we expected."""
    title = _HTML_TITLE.search(body[:4096])
    if title:
        return "HTML page: " + sanitize(title.group(1).decode("utf-8", "replace").strip(), 120)
    text = body[:limit].decode("utf-8", "replace").strip()
    if not text:
        return "empty body"
    return repr(sanitize(" ".join(text.split()), limit))[1:-1]


def _causes(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for item in list(chain):  # anyio groups the attempts of a happy-eyeballs connect
        chain += list(getattr(item, "exceptions", ()))
    return chain


def describe_connect_error(error: BaseException) -> str:
    """The useful part of a failed connection, in words (not the library's wrapper)."""
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "TLS certificate not trusted (set tls.ca_file, or tls.insecure_skip_verify)"
        if isinstance(cause, socket.gaierror):
            return "unknown host"
        refused = getattr(cause, "errno", None) == errno.ECONNREFUSED
        if isinstance(cause, ConnectionRefusedError) or refused:
            return "connection refused"
        if isinstance(cause, ConnectionResetError):
            return "connection reset by peer"
    text = str(error) or type(error).__name__
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "certificate verify failed" in lowered:
        return "TLS certificate not trusted (set tls.ca_file, or tls.insecure_skip_verify)"
    return sanitize(text, 200)


class HTTPClient:
    """An ``httpx.AsyncClient`` with a source's settings, created in the running loop."""

    def __init__(self, name: str, config: HTTPSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        self.base_dir = base_dir
        self.base_url = config.url
        self._credentials = Credentials(config.auth, base_dir)
        self._client: httpx.AsyncClient | None = None

    def _make_client(self) -> httpx.AsyncClient:
        headers = {"User-Agent": f"watchdeck/{__version__}", **self.config.headers}
        return httpx.AsyncClient(
            base_url=self.base_url,
            headers=headers,
            verify=ssl_context(self.config.tls, self.base_dir),
            timeout=httpx.Timeout(self.config.timeout),
            follow_redirects=True,
            trust_env=False,
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        data: Any = None,
        json: Any = None,
        accept: str = "application/json",
    ) -> HTTPResponse:
        if self._client is None:
            self._client = self._make_client()
        headers = {"Accept": accept}
        authorization = self._credentials.header()
        if authorization is not None:
            headers["Authorization"] = authorization
        cap = self.config.max_response_bytes
        started = time.perf_counter()
        url = f"{self.base_url}{path}"
        try:
            async with self._client.stream(
                method, path, params=params, data=data, json=json, headers=headers
            ) as response:
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise ResponseTooLargeError(cap, source=self.name)
                chunks = []
                size = 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise ResponseTooLargeError(cap, source=self.name)
                    chunks.append(chunk)
                body = b"".join(chunks)
                content_type = response.headers.get("content-type", "")
                status = response.status_code
        except SourceError:
            raise
        except httpx.TimeoutException:
            raise TimeoutError(
                f"no answer from {url} within {self.config.timeout:g}s", source=self.name
            ) from None
        except httpx.ConnectError as error:
            raise ConnectError(
                f"cannot connect to {self.base_url}: {describe_connect_error(error)}",
                source=self.name,
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as error:
            raise ConnectionLostError(
                f"connection to {self.base_url} failed: {describe_connect_error(error)}",
                source=self.name,
            ) from None
        except httpx.HTTPError as error:
            raise SourceError(
                f"request to {url} failed: {sanitize(str(error), 200)}", source=self.name
            ) from None
        return HTTPResponse(status, content_type, body, time.perf_counter() - started)

    def status_error(self, response: HTTPResponse) -> HTTPStatusError:
        reason = httpx.codes.get_reason_phrase(response.status)
        return HTTPStatusError(
            response.status,
            f"HTTP {response.status} {reason}: {body_excerpt(response.body)}",
            source=self.name,
        )

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
