"""The errors of the PromQL subset, shaped like Prometheus's API errors."""

from __future__ import annotations

BAD_DATA = "bad_data"
EXECUTION = "execution"
UNSUPPORTED_PREFIX = "not supported by the embedded engine: "


class PromQLError(Exception):
    """A query the engine refuses or could not evaluate.

    ``error_type`` is Prometheus's ``errorType`` for the same failure (``bad_data`` for
    queries that do not parse or type-check and for invalid parameters, ``execution`` for
    failures during evaluation), so the HTTP layer can answer exactly as Prometheus would.
    """

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message

    def __str__(self) -> str:
        return self.message


class UnsupportedError(PromQLError):
    """Valid PromQL outside the documented subset: refused rather than guessed at."""

    def __init__(self, construct: str) -> None:
        super().__init__(BAD_DATA, UNSUPPORTED_PREFIX + construct)
        self.construct = construct


def bad_data(message: str) -> PromQLError:
    return PromQLError(BAD_DATA, message)


def execution(message: str) -> PromQLError:
    return PromQLError(EXECUTION, message)
