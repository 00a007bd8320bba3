"""Loading OpenMetrics files with timestamps, as promtool's backfill reads them."""

from __future__ import annotations

import math

import pytest

from tests.support.openmetrics_data import generate
from watchdeck.core.engine.load import LoadError, load_text, parse_openmetrics
from watchdeck.core.engine.matchers import Matcher
from watchdeck.core.engine.storage import Storage

GOOD = """# HELP rq Requests.
# TYPE rq counter
rq_total{job="a",path="/x \\"q\\"\\\\n"} 1 1700000000.123
rq_total{job="a",path="/x \\"q\\"\\\\n"} 3.5 1700000015 # {trace_id="abc"} 1 1700000014
# TYPE g gauge
g NaN 1700000000
g +Inf 1700000015.5
g -1e-3 1700000030
# EOF
"""


def test_samples_labels_and_timestamps():
    samples = list(parse_openmetrics(GOOD))
    key, t, value = samples[0]
    assert dict(key) == {"__name__": "rq_total", "job": "a", "path": '/x "q"\\n'}
    assert t == int(1700000000.123 * 1000) and value == 1
    assert samples[1][1:] == (1700000015000, 3.5)  # the exemplar is ignored
    assert math.isnan(samples[2][2]) and samples[3] == (samples[3][0], 1700000015500, math.inf)


def test_loading_into_storage():
    storage = Storage(retention_ms=10**13)
    stats = load_text(GOOD, storage)
    assert (stats.series, stats.samples, stats.refused) == (2, 5, 0)
    assert stats.min_time_ms == 1700000000000 and stats.max_time_ms == 1700000030000
    (series,) = storage.select([Matcher("__name__", "=", "g")], 0, 2 * 10**12)
    assert series.timestamps == [1700000000000, 1700000015500, 1700000030000]


def test_samples_out_of_order_are_stored_in_order():
    text = "a 2 20\na 1 10\na 2 20\n# EOF\n"
    storage = Storage(retention_ms=10**13)
    assert load_text(text, storage).samples == 2
    (series,) = storage.select([Matcher("__name__", "=", "a")], 0, 10**6)
    assert series.values == [1.0, 2.0]


@pytest.mark.parametrize(("text", "message"), [
    ("a 1 10\n", "does not end with # EOF"),
    ("a 1\n# EOF\n", "expected timestamp"),
    ("a 1 10\n# EOF\na 2 20\n", "data after # EOF"),
    ("a{b=c} 1 10\n# EOF\n", "invalid"),
    ("a 1_0 10\n# EOF\n", "invalid value"),
    ("a 1 0x10\n# EOF\n", "invalid timestamp"),
    ("a 1 10\na 2 10\n# EOF\n", "duplicate sample for timestamp"),
    ("a{b=\"1\",b=\"2\"} 1 10\n# EOF\n", "duplicate label"),
    ("# random comment\n# EOF\n", "invalid comment"),
])
def test_what_promtool_refuses_is_refused(text, message):
    with pytest.raises(LoadError, match=message):
        load_text(text, Storage())


def test_the_conformance_data_loads_completely():
    dataset = generate()
    storage = Storage(retention_ms=10**13)
    stats = load_text(dataset.text, storage)
    assert (stats.series, stats.samples, stats.refused) == (dataset.series, dataset.samples, 0)
    assert stats.min_time_ms == dataset.start_ms
