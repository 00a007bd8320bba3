"""The embedded metrics engine: scrape, store, PromQL subset, rules, HTTP API.

Headless like the rest of :mod:`watchdeck.core`. The store (:mod:`.storage`) holds
samples in memory, bounded by retention and series count; :mod:`.promql` evaluates a
documented subset of PromQL over it with Prometheus's semantics and result shapes.
"""
