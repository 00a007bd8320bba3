"""Reading trace backends' answers: JSON bodies (plain, or a stream of objects as a
grpc-gateway sends them) and OTLP trace JSON in any of its dialects.

OTLP JSON goes through the OTLP receiver's own decoder
(:func:`watchdeck.core.otlp.decode.spans_from_resource_spans`), which already reads what
the backends send: hex ids (the spec, Jaeger api_v3) and base64 ids (gogo-jsonpb: Tempo,
older grpc-gateways), enum numbers and names, 64-bit integers as strings or numbers, zero
fields left out; the ``resourceSpans`` found under a wrapper (``result``, ``trace``,
``batches``) go to it as parsed.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from watchdeck.core.errors import BadResponseError
from watchdeck.core.otlp.decode import OTLPDecodeError, spans_from_resource_spans
from watchdeck.core.otlp.spans import Span
from watchdeck.core.safe import sanitize
from watchdeck.core.sources.http import HTTPClient, HTTPResponse, body_excerpt


def is_success(response: HTTPResponse) -> bool:
    return 200 <= response.status < 300


def looks_like_json(response: HTTPResponse) -> bool:
    start = response.body.lstrip()[:1]
    return start in (b"{", b"[") or (
        "json" in response.content_type and start not in (b"<", b""))


def _json_failure(error: ValueError, body: bytes, status: int, source: str
                  ) -> BadResponseError:
    where = f" at byte {error.pos}" if isinstance(error, json.JSONDecodeError) else ""
    # Cut short: the error is at the very end, or a string never closes.
    truncated = isinstance(error, json.JSONDecodeError) and (
        error.pos >= len(body.rstrip()) - 1 or error.msg.startswith("Unterminated string"))
    what = "truncated JSON" if truncated else "invalid JSON"
    if not 200 <= status < 300:
        what = f"HTTP {status} with {what}"
    return BadResponseError(f"{what}{where} ({len(body):,} bytes)", source=source)


def read_json(response: HTTPResponse, http: HTTPClient, *, stream: bool = False) -> Any:
    """The JSON value of a body. With ``stream``, a list of every top-level value (one or
    more concatenated objects, as a grpc-gateway streams server responses).

    A body that is not JSON raises the status error when the status is not a success (the
    HTML of a proxy's 502 is described by its title), else :class:`BadResponseError`.
    """
    body = response.body
    if not looks_like_json(response):
        if not is_success(response):
            raise http.status_error(response)
        raise BadResponseError(
            f"expected JSON, got {response.content_type or 'no content type'}: "
            f"{body_excerpt(body)}", source=http.name)
    try:
        text = body.decode("utf-8")
        if not stream:
            return json.loads(text)
        decoder = json.JSONDecoder()
        values: list[Any] = []
        position = 0
        while True:
            while position < len(text) and text[position] in " \t\r\n":
                position += 1
            if position == len(text):
                return values
            value, position = decoder.raw_decode(text, position)
            values.append(value)
    except (ValueError, RecursionError) as error:
        if isinstance(error, UnicodeDecodeError):
            raise BadResponseError(f"answer is not UTF-8 ({len(body):,} bytes)",
                                   source=http.name) from None
        if isinstance(error, RecursionError):
            raise BadResponseError("JSON nested too deeply", source=http.name) from None
        raise _json_failure(error, body, response.status, http.name) from None


def spans_from_otlp(resource_spans: object, *, source: str, what: str) -> list[Span]:
    """Spans of a ``resourceSpans`` list (OTLP JSON or gogo-jsonpb), ``seq`` in the order
    given. Spans without a valid trace or span id are left out; a list that is not one
    raises :class:`BadResponseError`."""
    if resource_spans is None:
        return []
    if not isinstance(resource_spans, list):
        raise BadResponseError(f"{what}: resourceSpans is not a list", source=source)
    try:
        decoded = spans_from_resource_spans(resource_spans, received_ns=0)
    except OTLPDecodeError as error:  # only for a body of the wrong shape: not expected
        raise BadResponseError(f"{what}: {sanitize(str(error), 160)}", source=source) from None
    for seq, span in enumerate(decoded.items, 1):
        span.seq = seq
    return decoded.items


def now() -> float:
    """Wall-clock time, for default windows (a function so tests can replace it)."""
    return time.time()


def rfc3339(seconds: float) -> str:
    """Unix seconds as RFC 3339 with nanoseconds in UTC (Go's RFC3339Nano reads it)."""
    whole = math.floor(seconds)
    # From the fraction alone: seconds * 1e9 is past a float's precision.
    fraction = min(round((seconds - whole) * 1e9), 10**9 - 1)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
    return f"{stamp}.{fraction:09d}Z"
