"""Prometheus HTTP API v1 client (also Thanos, Mimir, VictoriaMetrics, Cortex).

Answers are parsed into :class:`~watchdeck.core.model.QueryResult`; Prometheus's error
envelope becomes a :class:`~watchdeck.core.errors.QueryError` carrying the server's own
message; anything else that is not the promised JSON becomes a
:class:`~watchdeck.core.errors.BadResponseError` that says what came instead.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from watchdeck.core.alerts import Alert, alerts_from_rules
from watchdeck.core.config.models import PrometheusSourceConfig
from watchdeck.core.errors import BadResponseError, QueryError
from watchdeck.core.model import Exemplar, QueryResult, Series
from watchdeck.core.safe import sanitize
from watchdeck.core.sources.http import HTTPClient, HTTPResponse, body_excerpt

_LEGACY_LABEL = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def escape_label_name(name: str) -> str:
    """Escape a label name for ``/api/v1/label/<name>/values`` (``U__`` for UTF-8 names)."""
    if _LEGACY_LABEL.match(name):
        return name
    out = ["U__"]
    for char in name:
        if char.isascii() and (char.isalnum() or char == ":"):
            out.append(char)
        elif char == "_":
            out.append("__")
        else:
            out.append(f"_{ord(char):x}_")
    return "".join(out)


def _float(value: Any) -> float:
    return float(value)  # accepts "NaN", "+Inf", "-Inf"


def _labels(raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise BadResponseError("series without a label map")
    return {str(k): str(v) for k, v in raw.items()}


def parse_result(data: Any, warnings: tuple[str, ...] = (), infos: tuple[str, ...] = ()
                 ) -> QueryResult:
    """Turn a query's ``data`` object into a :class:`QueryResult`."""
    if not isinstance(data, dict) or "resultType" not in data:
        raise BadResponseError("query answer without resultType")
    kind = data["resultType"]
    result = data.get("result")
    try:
        if kind == "matrix":
            series = []
            for item in result or ():
                values = item.get("values") or ()
                if values:
                    stamps, raw = zip(*values)
                    series.append(Series(_labels(item.get("metric", {})),
                                         tuple(map(float, stamps)), tuple(map(_float, raw))))
                else:
                    series.append(Series(_labels(item.get("metric", {})), (), ()))
            return QueryResult("matrix", tuple(series), warnings, infos)
        if kind == "vector":
            series = []
            for item in result or ():
                value = item.get("value")
                if value is None:  # a native-histogram sample; not drawn
                    continue
                series.append(Series(_labels(item.get("metric", {})),
                                     (float(value[0]),), (_float(value[1]),)))
            return QueryResult("vector", tuple(series), warnings, infos)
        if kind == "scalar":
            return QueryResult("scalar", (Series({}, (float(result[0]),), (_float(result[1]),)),),
                               warnings, infos)
        if kind == "string":
            return QueryResult("string", (), warnings, infos, string_value=str(result[1]))
    except (TypeError, ValueError, IndexError, AttributeError) as error:
        raise BadResponseError(f"malformed {kind} result: {sanitize(str(error), 120)}") from None
    raise BadResponseError(f"unknown resultType {sanitize(str(kind), 40)!r}")


def parse_exemplars(data: Any) -> list[Exemplar]:
    """Turn ``query_exemplars``'s ``data`` into exemplars, sorted by time (then series).
    ``null`` (a query without selectors) is none."""
    if data is None:
        return []
    if not isinstance(data, list):
        raise BadResponseError("exemplars answer is not a list")
    out = []
    try:
        for item in data:
            series = _labels(item.get("seriesLabels"))
            for entry in item.get("exemplars") or ():
                out.append(Exemplar.from_labels(series, _labels(entry.get("labels", {})),
                                                _float(entry["value"]),
                                                float(entry["timestamp"])))
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        raise BadResponseError(f"malformed exemplars answer: {sanitize(str(error), 120)}"
                               ) from None
    out.sort(key=lambda e: (e.timestamp, sorted(e.series_labels.items())))
    return out


NO_EXEMPLARS = ("no exemplars for this query and window (Prometheus keeps them only with "
                "--enable-feature=exemplar-storage, and only from OpenMetrics scrapes)")


class PrometheusSource:
    """An async client for one Prometheus-compatible server."""

    type = "prometheus"

    def __init__(self, name: str, config: PrometheusSourceConfig, base_dir: Path) -> None:
        self.name = name
        self.config = config
        self.http = HTTPClient(name, config, base_dir)

    @property
    def scrape_interval(self) -> float:
        return self.config.scrape_interval

    @property
    def url(self) -> str:
        return self.config.url

    # ------------------------------------------------------------------ transport

    async def _api(self, method: str, path: str, *, params: Any = None, data: Any = None) -> Any:
        return (await self._call(method, path, params=params, data=data))[0]

    async def _call(
        self, method: str, path: str, *, params: Any = None, data: Any = None
    ) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
        """The ``data`` of an API answer, with its warnings and infos."""
        response = await self.http.request(method, f"/api/v1/{path}", params=params, data=data)
        return self._decode(response)

    def _decode(self, response: HTTPResponse) -> tuple[Any, tuple[str, ...], tuple[str, ...]]:
        envelope = self._json(response)
        if envelope.get("status") == "error" or "errorType" in envelope:
            raise QueryError(
                sanitize(str(envelope.get("errorType", ""))),
                sanitize(str(envelope.get("error", "unknown error"))),
                status=response.status,
                warnings=tuple(sanitize(w) for w in envelope.get("warnings") or ()),
                source=self.name,
            )
        if not 200 <= response.status < 300:
            raise self.http.status_error(response)
        if envelope.get("status") != "success" or "data" not in envelope:
            raise BadResponseError(
                f"answer is JSON but not a Prometheus API response: {body_excerpt(response.body)}",
                source=self.name,
            )
        warnings = tuple(sanitize(w) for w in envelope.get("warnings") or ())
        infos = tuple(sanitize(w) for w in envelope.get("infos") or ())
        return envelope["data"], warnings, infos

    def _json(self, response: HTTPResponse) -> dict[str, Any]:
        body = response.body
        looks_json = "json" in response.content_type or body.lstrip()[:1] in (b"{", b"[")
        if not looks_json:
            if not 200 <= response.status < 300:
                raise self.http.status_error(response)
            raise BadResponseError(
                f"expected JSON, got {response.content_type or 'no content type'}: "
                f"{body_excerpt(body)}",
                source=self.name,
            )
        try:
            envelope = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            where = f" at byte {error.pos}" if isinstance(error, json.JSONDecodeError) else ""
            # Cut short: the error is at the very end, or a string never closes.
            truncated = isinstance(error, json.JSONDecodeError) and (
                error.pos >= len(body.rstrip()) - 1
                or error.msg.startswith("Unterminated string")
            )
            what = "truncated JSON" if truncated else "invalid JSON"
            if not 200 <= response.status < 300:
                what = f"HTTP {response.status} with {what}"
            raise BadResponseError(
                f"{what}{where} ({len(body):,} bytes)", source=self.name
            ) from None
        if not isinstance(envelope, dict):
            raise BadResponseError("answer is JSON but not an object", source=self.name)
        return envelope

    # ------------------------------------------------------------------ API

    async def query(self, expr: str, at: float | None = None) -> QueryResult:
        form = {"query": expr}
        if at is not None:
            form["time"] = f"{at:.3f}"
        return self._result(*await self._call("POST", "query", data=form))

    async def query_range(self, expr: str, start: float, end: float, step: float) -> QueryResult:
        form = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return self._result(*await self._call("POST", "query_range", data=form))

    async def query_exemplars(self, expr: str, start: float, end: float) -> list[Exemplar]:
        """The exemplars of the series ``expr`` selects, in ``[start, end]``.

        Prometheus answers an empty list both when there are none and when exemplar
        storage is off, so an empty answer can only say :data:`NO_EXEMPLARS`.
        """
        form = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}"}
        response = await self.http.request("POST", "/api/v1/query_exemplars", data=form)
        if response.status == 204 and not response.body.strip():
            return []  # a query without selectors, e.g. "1 + 1"
        data = self._decode(response)[0]
        try:
            return parse_exemplars(data)
        except BadResponseError as error:
            error.source = self.name
            raise

    def _result(self, data: Any, warnings: tuple[str, ...], infos: tuple[str, ...]
                ) -> QueryResult:
        try:
            return parse_result(data, warnings, infos)
        except BadResponseError as error:
            error.source = self.name
            raise

    @staticmethod
    def _range_params(match: list[str] | None, start: float | None, end: float | None
                      ) -> dict[str, str | list[str]]:
        params: dict[str, str | list[str]] = {}
        if match:
            params["match[]"] = list(match)
        if start is not None:
            params["start"] = f"{start:.3f}"
        if end is not None:
            params["end"] = f"{end:.3f}"
        return params

    async def label_names(
        self, match: list[str] | None = None, start: float | None = None, end: float | None = None
    ) -> list[str]:
        data = await self._api("GET", "labels", params=self._range_params(match, start, end))
        return self._strings(data)

    async def label_values(
        self,
        label: str,
        match: list[str] | None = None,
        start: float | None = None,
        end: float | None = None,
    ) -> list[str]:
        path = f"label/{escape_label_name(label)}/values"
        data = await self._api("GET", path, params=self._range_params(match, start, end))
        return self._strings(data)

    async def series(
        self, match: list[str], start: float | None = None, end: float | None = None
    ) -> list[dict[str, str]]:
        data = await self._api("POST", "series", data=self._range_params(match, start, end))
        if not isinstance(data, list):
            raise BadResponseError("series answer is not a list", source=self.name)
        return [_labels(item) for item in data]

    async def buildinfo(self) -> dict[str, str]:
        data = await self._api("GET", "status/buildinfo")
        if not isinstance(data, dict):
            raise BadResponseError("buildinfo answer is not an object", source=self.name)
        return {str(k): sanitize(v) for k, v in data.items()}

    async def alerts(self) -> list[Alert]:
        """Pending and firing alerts of Prometheus's rules, with each rule's expression."""
        data = await self._api("GET", "rules", params={"type": "alert"})
        try:
            return alerts_from_rules(data, self.name, "prometheus")
        except (ValueError, TypeError, AttributeError) as error:
            raise BadResponseError(f"malformed rules answer: {sanitize(str(error), 120)}",
                                   source=self.name) from None

    def _strings(self, data: Any) -> list[str]:
        if data is None:
            return []
        if not isinstance(data, list):
            raise BadResponseError("expected a list of strings", source=self.name)
        return [str(item) for item in data]

    async def aclose(self) -> None:
        await self.http.aclose()
