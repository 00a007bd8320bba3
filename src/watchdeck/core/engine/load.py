"""Load an OpenMetrics file with timestamps into a :class:`Storage`.

This takes the same input as ``promtool tsdb create-blocks-from openmetrics``: OpenMetrics
text ending with ``# EOF``, every sample with a timestamp in (possibly fractional)
seconds. Like promtool, a timestamp becomes ``int(seconds * 1000)`` milliseconds, every
sample line is a series named by its sample name (``_total``, ``_bucket``, ``_sum``...),
metadata lines and exemplars are ignored, a sample without a timestamp is an error, and so
is a second sample with the same timestamp and another value. Samples of a series may
appear in any order; they are stored in time order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from watchdeck.core.engine.storage import LabelKey, Storage

_SAMPLE = re.compile(
    r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[^"}]|"(?:[^"\\\n]|\\.)*")*\})? (\S+)(?: (\S+))?'
    r"(?: # .*)?")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)"\s*(,|$)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
_ESCAPE = re.compile(r"\\(.)")
_SPECIAL = {"NaN": float("nan"), "+Inf": float("inf"), "-Inf": float("-inf"),
            "Inf": float("inf")}
_METADATA = ("# HELP ", "# TYPE ", "# UNIT ")


class LoadError(ValueError):
    """The file is not OpenMetrics as promtool accepts it; says where."""


@dataclass(frozen=True)
class LoadStats:
    series: int
    samples: int
    refused: int  # samples the storage refused (older than what it already holds)
    min_time_ms: int | None
    max_time_ms: int | None


def _float(text: str, what: str, lineno: int) -> float:
    special = _SPECIAL.get(text)
    if special is not None:
        return special
    # Go's ParseFloat without the hex, "_" and word forms that the OpenMetrics parser
    # refuses; Python would accept blanks and digit separators.
    if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text):
        raise LoadError(f"line {lineno}: invalid {what} {text!r}")
    return float(text)


def _unescape(value: str) -> str:
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(0), m.group(0)), value)


def _labels(name: str, block: str | None, lineno: int) -> LabelKey:
    labels = {"__name__": name}
    if block and block != "{}":
        body = block[1:-1]
        pos = 0
        while pos < len(body):
            match = _LABEL.match(body, pos)
            if match is None:
                raise LoadError(f"line {lineno}: invalid labels {block!r}")
            label = match.group(1)
            if label in labels:
                raise LoadError(f"line {lineno}: duplicate label {label!r}")
            labels[label] = _unescape(match.group(2))
            pos = match.end()
            if match.group(3) == "" and pos < len(body):
                raise LoadError(f"line {lineno}: invalid labels {block!r}")
    return tuple(sorted(labels.items()))


def parse_openmetrics(text: str) -> Iterator[tuple[LabelKey, int, float]]:
    """(label key, timestamp ms, value) for every sample, in file order."""
    keys: dict[str, LabelKey] = {}
    ended = False
    lineno = 0
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    for lineno, line in enumerate(lines, 1):
        if ended:
            if line:
                raise LoadError(f"line {lineno}: data after # EOF")
            continue
        if not line:
            raise LoadError(f"line {lineno}: empty line")
        if line[0] == "#":
            if line == "# EOF":
                ended = True
            elif not line.startswith(_METADATA):
                raise LoadError(f"line {lineno}: invalid comment {line[:80]!r}")
            continue
        match = _SAMPLE.fullmatch(line)
        if match is None:
            raise LoadError(f"line {lineno}: invalid sample {line[:80]!r}")
        name, block, value_text, ts_text = match.groups()
        if ts_text is None:
            raise LoadError(f"line {lineno}: expected timestamp for series {name}{block or ''}")
        series_text = line[:match.end(2)] if block else name
        key = keys.get(series_text)
        if key is None:
            key = keys[series_text] = _labels(name, block, lineno)
        seconds = _float(ts_text, "timestamp", lineno)
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            raise LoadError(f"line {lineno}: invalid timestamp")
        yield key, int(seconds * 1000), _float(value_text, "value", lineno)
    if not ended:
        raise LoadError(f"line {lineno}: data does not end with # EOF")


def load_text(text: str, storage: Storage) -> LoadStats:
    """Parse all of ``text`` first (a broken file loads nothing), then store it."""
    by_series: dict[LabelKey, dict[int, float]] = {}
    for key, t, value in parse_openmetrics(text):
        samples = by_series.setdefault(key, {})
        previous = samples.get(t)
        same = previous == value or (previous != previous and value != value)
        if previous is not None and not same:
            labels = ", ".join(f'{k}="{v}"' for k, v in key)
            raise LoadError(f"duplicate sample for timestamp {t} with another value: {{{labels}}}")
        samples[t] = value
    total = sum(len(s) for s in by_series.values())
    times = [t for samples in by_series.values() for t in (min(samples), max(samples))]

    def ordered() -> Iterator[tuple[LabelKey, int, float]]:
        for key, samples in by_series.items():
            for t in sorted(samples):
                yield key, t, samples[t]

    refused = storage.append_many(ordered())
    return LoadStats(len(by_series), total, refused, min(times) if times else None,
                     max(times) if times else None)


def load_file(path: str | Path, storage: Storage) -> LoadStats:
    return load_text(Path(path).read_text(encoding="utf-8"), storage)
