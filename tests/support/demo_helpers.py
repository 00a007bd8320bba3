"""Scraping the demo fleet the way a scraper would, and parsing what comes back."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

# What Prometheus 2.x sends.
PROMETHEUS_ACCEPT = ("application/openmetrics-text;version=1.0.0,"
                     "application/openmetrics-text;version=0.0.1;q=0.75,"
                     "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")


async def scrape(client: httpx.AsyncClient, url: str, openmetrics: bool
                 ) -> tuple[str, dict[str, Metric]]:
    """The content type and the parsed families (by family name) of one scrape."""
    headers = {"Accept": PROMETHEUS_ACCEPT} if openmetrics else {}
    response = await client.get(url, headers=headers)
    response.raise_for_status()
    parse = parse_openmetrics if openmetrics else parse_text
    families = {family.name: family for family in parse(response.text)}
    return response.headers["content-type"], families


def bucket_bounds(family: Metric) -> dict[tuple[tuple[str, str], ...], list[str]]:
    """The ``le`` values of each series of a histogram family, in exposition order."""
    out: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for sample in family.samples:
        if sample.name.endswith("_bucket"):
            key = tuple(sorted((k, v) for k, v in sample.labels.items() if k != "le"))
            out.setdefault(key, []).append(sample.labels["le"])
    return out


def exemplar_trace_ids(families: dict[str, Metric], names: list[str] | None = None
                       ) -> set[str]:
    ids = set()
    for name, family in families.items():
        if names is not None and name not in names:
            continue
        for sample in family.samples:
            if sample.exemplar is not None:
                ids.add(sample.exemplar.labels["trace_id"])
    return ids


def sample_value(family: Metric, suffix: str = "", **labels: str) -> float:
    """The value of the one sample of ``family`` named ``<family><suffix>`` whose labels
    include ``labels``."""
    found = [s.value for s in family.samples
             if s.name == family.name + suffix
             and all(s.labels.get(k) == v for k, v in labels.items())]
    assert len(found) == 1, (family.name, suffix, labels, found)
    return found[0]


def port_is_closed(url: str) -> bool:
    parts = urlsplit(url)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((parts.hostname, parts.port)) != 0
