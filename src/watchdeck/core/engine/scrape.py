"""Scraping Prometheus text and OpenMetrics endpoints into the store.

One loop for all targets, every ``interval``: each target is fetched (size-capped, timed
out), parsed with prometheus_client's parsers (chosen by the answer's content type: the
text parser silently misreads exemplars), and appended with Prometheus's rules:

* ``job`` and ``instance`` labels are added; a target's own ``job``/``instance`` labels
  become ``exported_job``/``exported_instance`` (``honor_labels: false``);
* a series that was in the last scrape but not in this one gets a staleness marker, and a
  failed scrape marks every series of the target stale;
* ``up``, ``scrape_duration_seconds`` and ``scrape_samples_scraped`` are written for every
  target, with the reason of a failure kept for the status bar and ``/api/v1/targets``;
* exemplars of OpenMetrics answers go to the :class:`~.exemplars.ExemplarStore`.

Parsing and appending run in a worker thread so a large scrape does not stall the UI.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from watchdeck import __version__
from watchdeck.core.engine.exemplars import ExemplarStore
from watchdeck.core.engine.storage import STALE_NAN, LabelKey, Storage, label_key
from watchdeck.core.safe import sanitize

ACCEPT = (
    "application/openmetrics-text;version=1.0.0;q=0.9,"
    "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
)
DEFAULT_MAX_BODY = 16 * 1024 * 1024


@dataclass
class Target:
    url: str
    job: str = "scrape"

    @property
    def instance(self) -> str:
        return urlsplit(self.url).netloc or self.url


@dataclass
class TargetHealth:
    """What the last scrape of a target did (for the status bar and /api/v1/targets)."""

    target: Target
    health: str = "unknown"  # up | down | unknown
    last_error: str = ""
    last_scrape: float | None = None
    last_duration: float = 0.0
    samples: int = 0
    exemplar_error: str = ""  # why the last answer's exemplars were dropped


class ScrapeError(Exception):
    pass


def exemplar_ms(timestamp: object) -> int:
    """An exemplar's timestamp in ms as Prometheus reads it: the text as a float of
    seconds, times 1000, truncated."""
    seconds = getattr(timestamp, "sec", None)
    if seconds is not None:  # prometheus_client's Timestamp keeps the digits it read
        value = float(f"{seconds}.{getattr(timestamp, 'nsec', 0):09d}")
    else:
        value = float(timestamp)  # type: ignore[arg-type]
    return int(value * 1000)


def strip_exemplars(text: str) -> str:
    """An OpenMetrics answer without the exemplars (`` # {...} value ts``) of its sample
    lines; a ``#`` inside a quoted label value is not one."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if not line or line[0] == "#" or " # " not in line:
            continue
        quoted = escaped = False
        for pos, char in enumerate(line):
            if quoted:
                if escaped:
                    escaped = False
                elif char == "\\":
                    escaped = True
                elif char == '"':
                    quoted = False
            elif char == '"':
                quoted = True
            elif char == "#" and line[pos - 1] == " ":
                lines[index] = line[:pos - 1]
                break
    return "\n".join(lines)


def _timestamp_ms(timestamp: object, default: int) -> int:
    """prometheus_client gives seconds as float (text) or a Timestamp (OpenMetrics)."""
    if timestamp is None:
        return default
    seconds = getattr(timestamp, "sec", None)
    if seconds is not None:
        return int(seconds) * 1000 + int(getattr(timestamp, "nsec", 0)) // 1_000_000
    return int(round(float(timestamp) * 1000))  # type: ignore[arg-type]


def parse_exposition(body: bytes, content_type: str):  # type: ignore[no-untyped-def]
    """Metric families from a scrape body, with the parser its content type calls for."""
    text = body.decode("utf-8", errors="replace")
    if "openmetrics" in content_type:
        from prometheus_client.openmetrics.parser import text_string_to_metric_families
    else:
        from prometheus_client.parser import text_string_to_metric_families
    return list(text_string_to_metric_families(text))


class Scraper:
    def __init__(
        self,
        storage: Storage,
        targets: Sequence[Target],
        interval: float = 15.0,
        timeout: float | None = None,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        exemplars: ExemplarStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.targets = list(targets)
        self.interval = interval
        self.timeout = timeout if timeout is not None else min(interval, 10.0)
        self.max_body_bytes = max_body_bytes
        self.exemplars = exemplars if exemplars is not None else ExemplarStore()
        self.clock = clock
        self.health = {t.url: TargetHealth(t) for t in self.targets}
        self._last_keys: dict[str, set[LabelKey]] = {}
        self._cache: dict[str, dict[str, LabelKey]] = {}
        self._client: httpx.AsyncClient | None = None
        self.rounds = 0

    def set_targets(self, targets: Sequence[Target]) -> None:
        self.targets = list(targets)
        self.health = {t.url: self.health.get(t.url) or TargetHealth(t) for t in self.targets}

    async def run(self) -> None:
        """Scrape all targets every interval until cancelled."""
        try:
            while True:
                started = time.monotonic()
                await self.scrape_all()
                await asyncio.sleep(max(0.0, self.interval - (time.monotonic() - started)))
        finally:
            await self.aclose()

    async def scrape_all(self) -> None:
        now_ms = int(self.clock() * 1000)
        await asyncio.gather(*(self.scrape(target, now_ms) for target in self.targets))
        self.rounds += 1
        if self.rounds % 10 == 0:
            await asyncio.to_thread(self.storage.trim)

    async def scrape(self, target: Target, now_ms: int) -> None:
        health = self.health[target.url]
        started = time.perf_counter()
        try:
            body, content_type = await self._fetch(target)
            samples = await asyncio.to_thread(self._ingest, target, body, content_type, now_ms)
        except ScrapeError as error:
            health.health, health.last_error, health.samples = "down", str(error), 0
            await asyncio.to_thread(self._mark_failed, target, now_ms)
        else:
            health.health, health.last_error, health.samples = "up", "", samples
        health.last_duration = time.perf_counter() - started
        health.last_scrape = now_ms / 1000
        self._write_meta(target, now_ms, health)

    async def _fetch(self, target: Target) -> tuple[bytes, str]:
        if self._client is None:
            self._client = httpx.AsyncClient(
                headers={"User-Agent": f"watchdeck-engine/{__version__}", "Accept": ACCEPT},
                timeout=httpx.Timeout(self.timeout), follow_redirects=True, trust_env=False,
            )
        try:
            async with self._client.stream("GET", target.url) as response:
                if response.status_code != 200:
                    raise ScrapeError(f"server returned HTTP status {response.status_code}")
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > self.max_body_bytes:
                        raise ScrapeError(
                            f"body larger than {self.max_body_bytes:,} bytes (max_body_bytes)")
                    chunks.append(chunk)
                return b"".join(chunks), response.headers.get("content-type", "")
        except httpx.TimeoutException:
            raise ScrapeError(f"no answer within {self.timeout:g}s (timeout)") from None
        except httpx.HTTPError as error:
            from watchdeck.core.sources.http import describe_connect_error

            raise ScrapeError(describe_connect_error(error)) from None

    def _ingest(self, target: Target, body: bytes, content_type: str, now_ms: int) -> int:
        rows = self._parse_rows(target, body, content_type, now_ms)
        keys = {key for key, _, _ in rows}
        gone = self._last_keys.get(target.url, set()) - keys
        rows.extend((key, now_ms, STALE_NAN) for key in gone)
        self.storage.append_many(rows)
        self._last_keys[target.url] = keys
        return len(keys)

    def _parse_rows(self, target: Target, body: bytes, content_type: str, now_ms: int
                    ) -> list[tuple[LabelKey, int, float]]:
        """(label key, ms, value) of every sample in the answer.

        Like Prometheus's scrape cache: a sample line whose series text (``name{labels}``)
        was seen before only has its value read; new lines, lines with exemplars and
        anything odd go through prometheus_client's parser, which also rejects garbage.
        """
        text = body.decode("utf-8", errors="replace")
        openmetrics = "openmetrics" in content_type
        cache = self._cache.setdefault(target.url, {})
        rows: list[tuple[LabelKey, int, float]] = []
        seen: set[LabelKey] = set()
        misses: list[str] = []
        for line in text.split("\n"):
            if not line or line[0] == "#":
                continue
            if openmetrics and " # " in line:  # exemplars: the parser must see the body
                return self._parse_all(target, text, content_type, now_ms)
            brace = line.rfind("}")
            cut = brace + 1 if brace >= 0 else line.find(" ")
            key = cache.get(line[:cut]) if cut > 0 else None
            if key is None:
                misses.append(line)
                continue
            parts = line[cut:].split()
            try:
                value = float(parts[0])
                if len(parts) > 1:
                    stamp = float(parts[1])
                    t = int(round(stamp * 1000)) if openmetrics else int(stamp)
                else:
                    t = now_ms
            except (ValueError, IndexError):
                raise ScrapeError(f"cannot parse the answer: bad sample line {sanitize(line, 80)!r}"
                                  ) from None
            if key not in seen:  # a duplicate series in one answer: the first one counts
                seen.add(key)
                rows.append((key, t, value))
        if misses:
            rows += self._parse_lines(target, misses, cache, seen, openmetrics, now_ms)
        if len(cache) > max(10_000, 4 * len(seen)):
            cache.clear()  # series come and go: do not grow without bound
        return rows

    def _labels_key(self, target: Target, name: str, sample_labels: dict[str, str]) -> LabelKey:
        labels = dict(sample_labels)
        for label in ("job", "instance"):
            if label in labels:
                labels[f"exported_{label}"] = labels.pop(label)
        labels["__name__"] = name
        labels["job"] = target.job
        labels["instance"] = target.instance
        return label_key(labels)

    def _parse_lines(self, target: Target, lines: list[str], cache: dict[str, LabelKey],
                     seen: set[LabelKey], openmetrics: bool, now_ms: int
                     ) -> list[tuple[LabelKey, int, float]]:
        body = "\n".join(lines) + ("\n# EOF\n" if openmetrics else "\n")
        samples = [sample for family in self._families(body, openmetrics) for sample in
                   family.samples]
        rows = []
        for line, sample in zip(lines, samples):
            key = self._labels_key(target, sample.name, sample.labels)
            if len(samples) == len(lines):  # line order kept: the line's text names it
                brace = line.rfind("}")
                cut = brace + 1 if brace >= 0 else line.find(" ")
                if cut > 0:
                    cache[line[:cut]] = key
            if key not in seen:
                seen.add(key)
                rows.append((key, _timestamp_ms(sample.timestamp, now_ms), float(sample.value)))
        return rows

    @staticmethod
    def _families(body: str, openmetrics: bool):  # type: ignore[no-untyped-def]
        try:
            return parse_exposition(body.encode(), "application/openmetrics-text"
                                    if openmetrics else "text/plain")
        except (ValueError, TypeError, IndexError) as error:  # the parsers raise these
            raise ScrapeError(f"cannot parse the answer: {sanitize(str(error), 200)}") from None

    def _parse_all(self, target: Target, text: str, content_type: str, now_ms: int
                   ) -> list[tuple[LabelKey, int, float]]:
        """The whole answer through the parser (OpenMetrics with exemplars).

        prometheus_client's parser refuses a whole answer for one bad exemplar (labels
        over 128 characters, one on a gauge); Prometheus keeps the samples and drops the
        exemplar. So when the answer does not parse, it is parsed again without its
        exemplars, and if that works the scrape counts, its exemplars lost and the reason
        kept in the target's ``exemplar_error``.
        """
        openmetrics = "openmetrics" in content_type
        health = self.health.get(target.url)
        try:
            families = self._families(text, openmetrics)
            exemplar_error = ""
        except ScrapeError as error:
            if not openmetrics:
                raise
            try:
                families = self._families(strip_exemplars(text), openmetrics)
            except ScrapeError:
                raise error from None
            exemplar_error = f"exemplars dropped: {error}"
        if health is not None:
            health.exemplar_error = exemplar_error
        rows = []
        seen: set[LabelKey] = set()
        for family in families:
            for sample in family.samples:
                key = self._labels_key(target, sample.name, sample.labels)
                if key in seen:
                    continue
                seen.add(key)
                rows.append((key, _timestamp_ms(sample.timestamp, now_ms), float(sample.value)))
                exemplar = sample.exemplar
                if exemplar is not None:
                    stamp = exemplar.timestamp
                    self.exemplars.add(
                        key, exemplar.labels, float(exemplar.value),
                        exemplar_ms(stamp) if stamp is not None else now_ms,
                        has_timestamp=stamp is not None)
        return rows

    def _mark_failed(self, target: Target, now_ms: int) -> None:
        gone = self._last_keys.pop(target.url, set())
        self.storage.append_many((key, now_ms, STALE_NAN) for key in gone)

    def _write_meta(self, target: Target, now_ms: int, health: TargetHealth) -> None:
        base = {"job": target.job, "instance": target.instance}
        for name, value in (
            ("up", 1.0 if health.health == "up" else 0.0),
            ("scrape_duration_seconds", health.last_duration),
            ("scrape_samples_scraped", float(health.samples)),
        ):
            self.storage.append({**base, "__name__": name}, now_ms, value)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()
