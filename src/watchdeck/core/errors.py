"""Typed errors raised by sources. Each one reads well as a single line in a panel."""

from __future__ import annotations


class SourceError(Exception):
    """A backend could not answer. ``str()`` is the line shown to the user."""

    kind = "error"

    def __init__(self, message: str, *, source: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return self.message


class SourceConfigError(SourceError):
    """The source's own settings are unusable (missing token env var, unreadable CA file)."""

    kind = "config"


class ConnectError(SourceError):
    """The backend could not be reached (refused, DNS, TLS handshake)."""

    kind = "unreachable"


class ConnectionLostError(ConnectError):
    """The connection broke after the request went out: the backend may have acted on it."""


class TimeoutError(SourceError):  # noqa: A001 - a source timeout, deliberately named
    """The backend did not answer in time."""

    kind = "timeout"


class HTTPStatusError(SourceError):
    """A non-success HTTP status whose body is not the backend's own error format."""

    kind = "http"

    def __init__(self, status: int, message: str, *, source: str | None = None) -> None:
        super().__init__(message, source=source)
        self.status = status


class BadResponseError(SourceError):
    """The body is not what the API promises: HTML from a proxy, truncated JSON, bad shape."""

    kind = "bad response"


class ResponseTooLargeError(SourceError):
    """The body is larger than the configured cap; it was not read to the end."""

    kind = "too large"

    def __init__(self, limit: int, *, source: str | None = None) -> None:
        super().__init__(
            f"response larger than the {limit:,}-byte cap (max_response_bytes); "
            "narrow the query or raise the cap",
            source=source,
        )
        self.limit = limit


class QueryError(SourceError):
    """The backend rejected the query and said why (Prometheus ``errorType``/``error``)."""

    kind = "query"

    def __init__(
        self,
        error_type: str,
        error: str,
        *,
        status: int | None = None,
        warnings: tuple[str, ...] = (),
        source: str | None = None,
    ) -> None:
        super().__init__(f"{error_type}: {error}" if error_type else error, source=source)
        self.error_type = error_type
        self.error = error
        self.status = status
        self.warnings = warnings
