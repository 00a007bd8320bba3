"""The demo fleet: real exposition formats, the research file's names, determinism,
incidents, logs and traces with shared ids, and a clean stop."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.exposition import generate_latest

from tests.support.demo_helpers import (
    bucket_bounds,
    exemplar_trace_ids,
    port_is_closed,
    sample_value,
    scrape,
)
from tests.support.prometheus import PrometheusServer, require_binary
from watchdeck.demo import (
    ALERTS_BY_INCIDENT,
    INCIDENT_KINDS,
    KNOCK_ON_ALERTS,
    Fleet,
    FleetConfig,
)
from watchdeck.demo.exposition import DcgmCollector, GatewayCollector, VllmCollector
from watchdeck.demo.logs import JsonLogWriter
from watchdeck.demo.simulation import Simulation

# Straight from ../shared/research/ai-serving-metrics.md (vLLM v0.33.0 buckets.py), kept
# here rather than imported so that the package is checked against the research.
REQUEST_LATENCY = ["0.3", "0.5", "0.8", "1.0", "1.5", "2.0", "2.5", "5.0", "10.0", "15.0",
                   "20.0", "30.0", "40.0", "50.0", "60.0", "120.0", "240.0", "480.0",
                   "960.0", "1920.0", "7680.0", "+Inf"]
TTFT = ["0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5",
        "0.75", "1.0", "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "160.0", "640.0",
        "2560.0", "+Inf"]
ITL = ["0.01", "0.025", "0.05", "0.075", "0.1", "0.15", "0.2", "0.3", "0.4", "0.5", "0.75",
       "1.0", "2.5", "5.0", "7.5", "10.0", "20.0", "40.0", "80.0", "+Inf"]
# max_model_len 8192 (the demo's Llama) and 32768 (Mistral, Qwen)
TOKENS_8K = ["1.0", "2.0", "5.0", "10.0", "20.0", "50.0", "100.0", "200.0", "500.0",
             "1000.0", "2000.0", "5000.0", "+Inf"]
TOKENS_32K = TOKENS_8K[:-1] + ["10000.0", "20000.0", "+Inf"]

VLLM_TYPES = {
    "vllm:num_requests_running": "gauge",
    "vllm:num_requests_waiting": "gauge",
    "vllm:kv_cache_usage_perc": "gauge",
    "vllm:prefix_cache_queries": "counter",
    "vllm:prefix_cache_hits": "counter",
    "vllm:num_preemptions": "counter",
    "vllm:prompt_tokens": "counter",
    "vllm:generation_tokens": "counter",
    "vllm:request_success": "counter",
    "vllm:request_prompt_tokens": "histogram",
    "vllm:request_generation_tokens": "histogram",
    "vllm:time_to_first_token_seconds": "histogram",
    "vllm:inter_token_latency_seconds": "histogram",
    "vllm:request_time_per_output_token_seconds": "histogram",
    "vllm:e2e_request_latency_seconds": "histogram",
    "vllm:request_queue_time_seconds": "histogram",
    "vllm:request_inference_time_seconds": "histogram",
    "vllm:request_prefill_time_seconds": "histogram",
    "vllm:request_decode_time_seconds": "histogram",
}
LATENCY_BUCKETS = {
    "vllm:e2e_request_latency_seconds": REQUEST_LATENCY,
    "vllm:request_queue_time_seconds": REQUEST_LATENCY,
    "vllm:request_inference_time_seconds": REQUEST_LATENCY,
    "vllm:request_prefill_time_seconds": REQUEST_LATENCY,
    "vllm:request_decode_time_seconds": REQUEST_LATENCY,
    "vllm:time_to_first_token_seconds": TTFT,
    "vllm:inter_token_latency_seconds": ITL,
    "vllm:request_time_per_output_token_seconds": ITL,
}
DCGM_FIELDS = ["DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_FB_USED", "DCGM_FI_DEV_FB_FREE",
               "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_TEMP", "DCGM_FI_DEV_XID_ERRORS"]
DCGM_LABELS = {"gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname",
               "DCGM_FI_DRIVER_VERSION", "container", "namespace", "pod"}
GATEWAY_TYPES = {
    "llm_gateway_requests": "counter",
    "llm_gateway_request_cost_usd": "histogram",
    "llm_gateway_feedback": "counter",
    "llm_gateway_prediction_confidence": "histogram",
    "llm_gateway_model_drift_psi": "gauge",
}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def quiet(**overrides) -> FleetConfig:
    """A fleet with no incidents unless asked (tests pick their own)."""
    return FleetConfig(**{"seed": 7, "incident_kinds": (), **overrides})


# -- exposition ----------------------------------------------------------------------------


async def test_vllm_replicas_expose_vllms_names_types_labels_and_buckets() -> None:
    async with Fleet(quiet()) as fleet, httpx.AsyncClient() as client:
        replica_urls = fleet.targets[:3]
        expected_tokens = [TOKENS_8K, TOKENS_32K, TOKENS_32K]
        for url, tokens in zip(replica_urls, expected_tokens):
            text_type, text = await scrape(client, url, openmetrics=False)
            om_type, om = await scrape(client, url, openmetrics=True)
            assert text_type.startswith("text/plain; version=0.0.4")
            assert om_type.startswith("application/openmetrics-text; version=1.0.0")
            for families in (text, om):
                for name, kind in VLLM_TYPES.items():
                    assert families[name].type == kind, name
                for name, bounds in LATENCY_BUCKETS.items():
                    assert list(bucket_bounds(families[name]).values()) == [bounds], name
                for name in ("vllm:request_prompt_tokens", "vllm:request_generation_tokens"):
                    assert list(bucket_bounds(families[name]).values()) == [tokens], name
                for family in families.values():
                    if not family.name.startswith("vllm:"):
                        continue
                    for sample in family.samples:
                        # prometheus_client's naming, and no label vLLM does not have
                        assert not sample.name.endswith("_created"), sample.name
                        extra = {"le"} if sample.name.endswith("_bucket") else set()
                        if family.name == "vllm:request_success":
                            extra = {"finished_reason"}
                        assert set(sample.labels) == {"model_name", "engine"} | extra
                        assert sample.labels["engine"] == "0"
            counter_samples = {s.name for s in text["vllm:prompt_tokens"].samples}
            assert counter_samples == {"vllm:prompt_tokens_total"}
            reasons = {s.labels["finished_reason"] for s in om["vllm:request_success"].samples}
            assert reasons == {"stop", "length", "abort", "error", "repetition"}
            # The warm-up means the first scrape already sees traffic.
            assert sample_value(om["vllm:e2e_request_latency_seconds"], "_count") > 10
            # Exemplars: OpenMetrics only, on latency buckets, with 32-hex trace ids.
            assert not any(s.exemplar for f in text.values() for s in f.samples)
            exemplars = [s.exemplar for s in om["vllm:e2e_request_latency_seconds"].samples
                         if s.exemplar is not None]
            assert exemplars
            for exemplar in exemplars:
                assert HEX32.match(exemplar.labels["trace_id"])
                assert HEX16.match(exemplar.labels["span_id"])
        models = set()
        for url in replica_urls:
            _, families = await scrape(client, url, openmetrics=True)
            models |= {s.labels["model_name"] for s in families["vllm:num_requests_running"]
                       .samples}
        assert models == {"meta-llama/Llama-3.1-8B-Instruct",
                          "mistralai/Mistral-7B-Instruct-v0.3", "Qwen/Qwen2.5-14B-Instruct"}


@pytest.mark.parametrize("gpus", [2, 8])
async def test_dcgm_exporter_reports_every_gpu_with_its_labels(gpus: int) -> None:
    async with Fleet(quiet(gpus=gpus)) as fleet, httpx.AsyncClient() as client:
        dcgm = fleet.targets[3]
        for openmetrics in (False, True):
            _, families = await scrape(client, dcgm, openmetrics=openmetrics)
            for name in DCGM_FIELDS:
                family = families[name]
                assert family.type == "gauge", name
                assert [s.labels["gpu"] for s in family.samples] == [str(g) for g in
                                                                     range(gpus)]
                extra = {"err_code", "err_msg"} if name == "DCGM_FI_DEV_XID_ERRORS" else set()
                for sample in family.samples:
                    assert set(sample.labels) == DCGM_LABELS | extra
                    assert re.match(r"^GPU-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$",
                                    sample.labels["UUID"])
                    assert sample.labels["device"] == f"nvidia{sample.labels['gpu']}"
            for sample in families["DCGM_FI_DEV_GPU_UTIL"].samples:
                assert 0 <= sample.value <= 100
            used = {s.labels["gpu"]: s.value for s in families["DCGM_FI_DEV_FB_USED"].samples}
            free = {s.labels["gpu"]: s.value for s in families["DCGM_FI_DEV_FB_FREE"].samples}
            assert all(70_000 < used[g] + free[g] < 82_000 for g in used)   # an 80 GB H100
            xid = families["DCGM_FI_DEV_XID_ERRORS"].samples[0]
            assert (xid.value, xid.labels["err_code"], xid.labels["err_msg"]) == (
                0, "0", "No Error")
            # Every replica's pod shows up on some GPU.
            pods = {s.labels["pod"] for s in families["DCGM_FI_DEV_GPU_TEMP"].samples}
            assert pods == ({"vllm-0", "vllm-1", "vllm-2"} if gpus >= 3 else
                            {"vllm-0", "vllm-1"})


async def test_gateway_exposes_the_invented_business_signals() -> None:
    async with Fleet(quiet()) as fleet, httpx.AsyncClient() as client:
        for openmetrics in (False, True):
            _, families = await scrape(client, fleet.targets[4], openmetrics=openmetrics)
            assert {n: f.type for n, f in families.items()} == GATEWAY_TYPES
        cost = families["llm_gateway_request_cost_usd"]
        count = sample_value(cost, "_count", model_name="meta-llama/Llama-3.1-8B-Instruct")
        total = sample_value(cost, "_sum", model_name="meta-llama/Llama-3.1-8B-Instruct")
        assert count > 0 and 1e-5 < total / count < 1e-2   # dollars per request
        drift = families["llm_gateway_model_drift_psi"].samples
        assert {s.labels["feature"] for s in drift} == {"topic"}


# -- determinism ---------------------------------------------------------------------------


def render_all(sim: Simulation) -> list[bytes]:
    bodies = []
    collectors = [*(VllmCollector(r) for r in sim.replicas),
                  DcgmCollector(sim.gpus, [f"vllm-{i}" for i in range(len(sim.replicas))]),
                  GatewayCollector(sim.gateway)]
    for collector in collectors:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(collector)
        bodies.append(generate_latest(registry))
    return bodies


def test_same_seed_same_values_however_the_clock_is_sampled() -> None:
    config = FleetConfig(seed=42, incident_every=60.0, warmup=0.0)
    start = 1_800_000_000.0
    a, b, c = (Simulation(config, start) for _ in range(3))
    a_ids, b_ids = [], []
    for t in range(1, 121):                       # sampled every second...
        a_ids += [r.trace_hex for r in a.advance_to(start + t).finished]
        if t % 15 == 0:                           # ...or every 15 s (late, in bulk)
            b_ids += [r.trace_hex for r in b.advance_to(start + t + 0.1).finished]
            assert render_all(a) == render_all(b)
            assert a.active_incidents() == b.active_incidents()
    assert a_ids == b_ids and len(a_ids) > 500
    c_config = FleetConfig(seed=43, incident_every=60.0, warmup=0.0)
    other = Simulation(c_config, start)
    other.advance_to(start + 120)
    assert render_all(other) != render_all(a)


async def test_two_fleets_with_one_seed_serve_identical_metrics() -> None:
    now = [1_800_000_000.0]
    fleets = [Fleet(FleetConfig(seed=5, incident_every=20.0, tick=0.05),
                    clock=lambda: now[0]) for _ in range(2)]
    for fleet in fleets:
        await fleet.start()
    try:
        async with httpx.AsyncClient() as client:
            for step in (3.0, 10.0, 25.0):
                now[0] += step
                # Wait for both loops to reach the new simulated time.
                for _ in range(200):
                    if all(f.simulation.now >= now[0] - f.config.tick for f in fleets):
                        break
                    await asyncio.sleep(0.01)
                bodies = []
                for fleet in fleets:
                    responses = [await client.get(u, headers={"Accept":
                                                              "application/openmetrics-text"})
                                 for u in fleet.targets]
                    bodies.append([r.content for r in responses])
                assert bodies[0] == bodies[1]
                names = [[(i.name, i.started_at) for i in f.active_incidents()] for f in fleets]
                assert names[0] == names[1]
    finally:
        for fleet in fleets:
            await fleet.stop()


# -- incidents -----------------------------------------------------------------------------


def _replica_of(target: str) -> int:
    return int(re.fullmatch(r'instance="replica-(\d+)"', target).group(1))


@pytest.mark.parametrize("kind", INCIDENT_KINDS)
def test_each_incident_starts_moves_its_metric_and_ends(kind: str) -> None:
    # One incident every 120 s: it starts at 40 s and lasts 50 s; the next starts at 160 s.
    config = FleetConfig(seed=3, incident_kinds=(kind,), incident_every=120.0,
                         incident_duration=50.0, warmup=0.0)
    sim = Simulation(config, start=0.0)
    sim.advance_to(39.0)
    assert sim.active_incidents() == []
    before = _observe(sim)
    sim.advance_to(41.0)
    [incident] = sim.active_incidents()
    assert incident.name == kind and incident.started_at == 40.0
    during = []
    for second in range(42, 90):
        sim.advance_to(float(second))
        during.append(_observe(sim))
    assert sim.active_incidents()
    sim.advance_to(91.0)
    assert sim.active_incidents() == []
    sim.advance_to(150.0)   # a minute to recover
    after = _observe(sim)

    if kind == "gpu_hot":
        gpu = int(re.fullmatch(r'gpu="(\d+)"', incident.target).group(1))
        assert before["temp"][gpu] < 80 and max(d["temp"][gpu] for d in during) > 85
        assert max(d["power"][gpu] for d in during) > 650
        assert during[-1]["xid"][gpu] == 94
        assert after["temp"][gpu] < 80 and after["xid"][gpu] == 0
        return
    if kind == "model_drift":
        model = re.fullmatch(r'model_name="(.+)"', incident.target).group(1)
        assert before["psi"][model] < 0.2 < max(d["psi"][model] for d in during)
        assert after["psi"][model] < 0.2
        return
    r = _replica_of(incident.target)
    if kind == "latency_spike":
        itl = [(d["itl_sum"][r], d["itl_count"][r]) for d in during]
        mean_during = (itl[-1][0] - itl[10][0]) / (itl[-1][1] - itl[10][1])
        mean_before = before["itl_sum"][r] / before["itl_count"][r]
        assert mean_during > 0.1 > 3 * mean_before
    elif kind == "error_burst":
        errors = during[-1]["errors"][r] - before["errors"][r]
        finished = during[-1]["finished"][r] - before["finished"][r]
        assert errors / finished > 0.2 and before["errors"][r] / before["finished"][r] < 0.02
    elif kind == "queue_buildup":
        assert before["waiting"][r] == 0 and max(d["waiting"][r] for d in during) > 10
        assert after["waiting"][r] < 5
    elif kind == "kv_cache_saturation":
        assert before["kv"][r] < 0.6 and max(d["kv"][r] for d in during) > 0.9
        assert after["kv"][r] < 0.6
    # The other replicas carry on as before.
    for other in range(config.replicas):
        if other != r:
            assert max(d["waiting"][other] for d in during) < 5


def _observe(sim: Simulation) -> dict:
    return {
        "waiting": [len(r.waiting) for r in sim.replicas],
        "kv": [r.kv_usage for r in sim.replicas],
        "errors": [r.metrics.success["error"] for r in sim.replicas],
        "finished": [sum(r.metrics.success.values()) for r in sim.replicas],
        "itl_sum": [r.metrics.itl.total for r in sim.replicas],
        "itl_count": [r.metrics.itl.count for r in sim.replicas],
        "temp": [g.temp for g in sim.gpus],
        "power": [g.power for g in sim.gpus],
        "xid": [g.xid for g in sim.gpus],
        "psi": {name: m.drift_psi for name, m in sim.gateway.models.items()},
    }


async def test_accelerated_incident_shows_up_on_the_endpoint_and_ends() -> None:
    # speed 30: the first error burst starts 2 s in (scenario 60 s) and lasts 3 s.
    config = FleetConfig(seed=5, incident_kinds=("error_burst",), incident_every=180.0,
                         speed=30.0, warmup=0.0)
    async with Fleet(config) as fleet, httpx.AsyncClient() as client:
        errors_before = {}
        for url in fleet.targets[:3]:
            _, families = await scrape(client, url, openmetrics=True)
            errors_before[url] = sample_value(families["vllm:request_success"], "_total",
                                              finished_reason="error")
        assert fleet.active_incidents() == []
        incident = await _wait_for(lambda: (fleet.active_incidents() or [None])[0], 5.0)
        assert incident.name == "error_burst"
        assert abs(incident.started_at - (fleet.simulation.start + 2.0)) < 1e-6
        url = next(u for u in fleet.targets if incident.target == f'instance="{u[7:-8]}"')
        await _wait_for(lambda: not fleet.active_incidents(), 6.0)
        await asyncio.sleep(0.5)   # the last failing requests finish
        _, families = await scrape(client, url, openmetrics=True)
        errors_after = sample_value(families["vllm:request_success"], "_total",
                                    finished_reason="error")
        # (deterministic for this seed: 9 failures on the target replica)
        assert errors_after - errors_before[url] >= 4


async def _wait_for(condition, timeout: float):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = condition()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError("timed out")


# -- logs and traces -----------------------------------------------------------------------


async def test_log_lines_are_json_and_share_trace_ids_with_exemplars(tmp_path: Path) -> None:
    log_path = tmp_path / "logs" / "fleet.jsonl"
    async with Fleet(quiet(log_path=log_path, warmup=20.0)) as fleet, \
            httpx.AsyncClient() as client:
        exemplar_ids = set()
        for url in fleet.targets[:3]:
            _, families = await scrape(client, url, openmetrics=True)
            exemplar_ids |= exemplar_trace_ids(families, ["vllm:e2e_request_latency_seconds"])
        _, gateway = await scrape(client, fleet.targets[4], openmetrics=True)
        exemplar_ids |= exemplar_trace_ids(gateway)
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert len(records) > 100
    requests = [r for r in records if "finished_reason" in r]
    for record in requests:
        assert RFC3339_MS.match(record["time"])
        assert record["level"] in ("info", "warning", "error")
        assert HEX32.match(record["trace_id"]) and HEX16.match(record["span_id"])
        assert record["replica"] in ("vllm-0", "vllm-1", "vllm-2")
        assert record["latency"] >= 0 and record["prompt_tokens"] > 0
        assert ("error" in record) == (record["finished_reason"] == "error")
    assert [r["time"] for r in records] == sorted(r["time"] for r in records)
    logged = {r["trace_id"] for r in requests}
    assert exemplar_ids and exemplar_ids <= logged


def test_log_file_rotates_at_its_cap(tmp_path: Path) -> None:
    writer = JsonLogWriter(tmp_path / "demo.jsonl", max_bytes=1000)
    writer.open()
    for i in range(100):
        writer.write({"i": i, "msg": "x" * 40})
        writer.flush()
    writer.close()
    assert (tmp_path / "demo.jsonl.1").stat().st_size >= 1000
    assert (tmp_path / "demo.jsonl").stat().st_size < 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.jsonl", "demo.jsonl.1"]


async def test_spans_form_the_request_tree_with_gen_ai_attributes(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind, StatusCode

    exporter = InMemorySpanExporter()
    log_path = tmp_path / "fleet.jsonl"
    config = FleetConfig(seed=9, incident_kinds=("error_burst",), incident_every=30.0,
                         warmup=40.0, log_path=log_path, span_exporter=exporter)
    async with Fleet(config):
        pass
    spans = exporter.get_finished_spans()
    traces: dict[int, dict[str, object]] = {}
    for span in spans:
        traces.setdefault(span.context.trace_id, {})[span.name.split(" ")[0]] = span
    logs = {json.loads(line)["trace_id"]: json.loads(line)
            for line in log_path.read_text().splitlines()
            if "finished_reason" in line}
    assert {f"{t:032x}" for t in traces} == set(logs)
    failed = 0
    for trace_id, tree in traces.items():
        gateway, router, server = tree["POST"], tree["chat"], tree["llm_request"]
        assert gateway.parent is None and gateway.kind == SpanKind.SERVER
        assert router.parent.span_id == gateway.context.span_id
        assert router.kind == SpanKind.CLIENT
        assert server.parent.span_id == router.context.span_id
        assert server.kind == SpanKind.SERVER
        for child in ("prefill", "decode"):
            if child in tree:
                assert tree[child].parent.span_id == server.context.span_id
                assert server.start_time <= tree[child].start_time <= tree[child].end_time
                assert tree[child].end_time <= server.end_time
        assert gateway.start_time < router.start_time < server.start_time
        assert server.end_time < router.end_time < gateway.end_time
        assert gateway.resource.attributes["service.name"] == "llm-gateway"
        assert router.resource.attributes["service.name"] == "llm-router"
        assert server.resource.attributes["service.name"] == "vllm"
        attrs = server.attributes
        log = logs[f"{trace_id:032x}"]
        assert attrs["gen_ai.system"] == "vllm"
        assert attrs["gen_ai.request.model"] == log["model"]
        assert attrs["gen_ai.usage.input_tokens"] == log["prompt_tokens"]
        assert attrs["gen_ai.usage.output_tokens"] == log["generation_tokens"]
        assert tuple(attrs["gen_ai.response.finish_reasons"]) == (log["finished_reason"],)
        # The span lasts exactly as long as the simulated request.
        assert abs((server.end_time - server.start_time) / 1e9 - log["latency"]) < 1e-3
        assert f"{server.context.span_id:016x}" == log["span_id"]
        if log["finished_reason"] == "error":
            failed += 1
            assert server.status.status_code == StatusCode.ERROR
            assert gateway.attributes["http.response.status_code"] == 500
            assert server.events[0].name == "exception"
        else:
            assert server.status.status_code == StatusCode.UNSET
    assert failed > 0


@pytest.mark.parametrize("asked_by", ["environment", "config"])
async def test_spans_go_out_over_otlp_http_when_asked(
        asked_by: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from aiohttp import web
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    received: list[ExportTraceServiceRequest] = []

    async def sink(request: web.Request) -> web.Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.read())
        received.append(message)
        return web.Response(body=b"", content_type="application/x-protobuf")

    app = web.Application()
    app.router.add_post("/v1/traces", sink)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    await web.SockSite(runner, listener).start()
    endpoint = f"http://127.0.0.1:{port}"
    if asked_by == "environment":
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        config = quiet(warmup=5.0)
    else:
        config = quiet(warmup=5.0, otlp_endpoint=endpoint)
    threads_before = set(threading.enumerate())
    try:
        async with Fleet(config):
            pass
    finally:
        await runner.cleanup()
    assert set(threading.enumerate()) == threads_before   # the exporter thread is gone
    services = set()
    trace_ids = set()
    for message in received:
        for resource_spans in message.resource_spans:
            for attribute in resource_spans.resource.attributes:
                if attribute.key == "service.name":
                    services.add(attribute.value.string_value)
            for scope_spans in resource_spans.scope_spans:
                trace_ids |= {s.trace_id.hex() for s in scope_spans.spans}
    assert services == {"llm-gateway", "llm-router", "vllm"}
    assert len(trace_ids) > 20 and all(HEX32.match(t) for t in trace_ids)


def test_without_an_endpoint_the_sdk_is_not_even_imported() -> None:
    probe = ("import asyncio, sys\n"
             "from watchdeck.demo import Fleet, FleetConfig\n"
             "async def main():\n"
             "    async with Fleet(FleetConfig(warmup=5.0)):\n"
             "        await asyncio.sleep(0.3)\n"
             "asyncio.run(main())\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'opentelemetry', "
             "'textual'}))\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            env=env, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


# -- lifecycle -----------------------------------------------------------------------------


async def test_stop_closes_every_port_and_leaves_nothing_running() -> None:
    threads_before = set(threading.enumerate())
    tasks_before = asyncio.all_tasks()
    fleet = Fleet(FleetConfig(replicas=4, gpus=8, seed=1))
    await fleet.start()
    assert len(fleet.targets) == 6
    async with httpx.AsyncClient() as client:   # keep-alive connections stay open
        for url in fleet.targets:
            assert (await client.get(url)).status_code == 200
        await fleet.stop()
        for url in fleet.targets:
            assert port_is_closed(url), url
    assert asyncio.all_tasks() == tasks_before
    assert set(threading.enumerate()) == threads_before
    await fleet.stop()   # twice is harmless


def test_fleet_only_command_prints_targets_and_quits_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "watchdeck.demo", "--fleet-only", "--seed", "4",
         "--replicas", "2", "--gpus", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        while not lines or not lines[-1].startswith("Ctrl-C"):
            line = process.stdout.readline()
            assert line, process.stderr.read()
            lines.append(line.strip())
        urls = re.findall(r"http://127\.0\.0\.1:\d+/metrics", "\n".join(lines))
        assert len(urls) == 4
        assert "vllm:num_requests_running" in httpx.get(urls[0]).text
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
        assert all(port_is_closed(u) for u in urls)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_config_is_checked() -> None:
    with pytest.raises(ValueError, match="gpus"):
        FleetConfig(gpus=9)
    with pytest.raises(ValueError, match="unknown incident"):
        FleetConfig(incident_kinds=("meteor",))


# -- rules ---------------------------------------------------------------------------------


def test_rules_cover_every_incident_and_carry_what_the_console_needs() -> None:
    rules = [rule for group in yaml.safe_load(Fleet().rules_path.read_text())["groups"]
             for rule in group["rules"]]
    names = {rule["alert"] for rule in rules}
    for kind in INCIDENT_KINDS:
        assert ALERTS_BY_INCIDENT[kind] and set(ALERTS_BY_INCIDENT[kind]) <= names, kind
        assert set(KNOCK_ON_ALERTS.get(kind, ())) <= names, kind
    for rule in rules:
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["for"] in ("0s", "30s", "1m")
        notes = rule["annotations"]
        assert {"summary", "description", "runbook_url", "watchdeck_layout"} <= set(notes)
        assert "{{ $value }}" in notes["description"]
        assert "{{ $labels." in notes["summary"] + notes["description"]


def test_promtool_accepts_the_rules() -> None:
    promtool = require_binary("promtool")
    result = subprocess.run([promtool, "check", "rules", str(Fleet().rules_path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.prometheus
async def test_real_prometheus_scrapes_the_fleet_with_exemplars(tmp_path: Path) -> None:
    async with Fleet(quiet()) as fleet:
        server = PrometheusServer(tmp_path / "prometheus", [u[7:-8] for u in fleet.targets],
                                  rule_files=[fleet.rules_path],
                                  extra_args=["--enable-feature=exemplar-storage"])
        await asyncio.to_thread(server.start)
        try:
            await asyncio.to_thread(server.wait_for,
                                    'count(up{job="app"} == 1) == 5', 30)
            await asyncio.to_thread(server.wait_for,
                                    "vllm:e2e_request_latency_seconds_count", 30)
            async with httpx.AsyncClient(base_url=server.url) as client:
                answer = (await client.get("/api/v1/query_exemplars", params={
                    "query": "vllm:e2e_request_latency_seconds_bucket",
                    "start": "0", "end": "9999999999"})).json()
                rules = (await client.get("/api/v1/rules")).json()
        finally:
            await asyncio.to_thread(server.stop)
    ids = {e["labels"]["trace_id"] for series in answer["data"] for e in series["exemplars"]}
    assert ids and all(HEX32.match(i) for i in ids)
    loaded = {r["name"] for g in rules["data"]["groups"] for r in g["rules"]}
    assert loaded == {a for alerts in ALERTS_BY_INCIDENT.values() for a in alerts}


async def test_a_frozen_fleet_serves_its_last_state_unchanged() -> None:
    """``freeze`` stops the simulation: the endpoints keep answering, with the same
    values however the clock moves on (while a running fleet's move)."""
    now = [1_800_000_000.0]
    fleet = Fleet(FleetConfig(seed=5, incident_kinds=(), tick=0.05), clock=lambda: now[0])
    await fleet.start()
    try:
        async with httpx.AsyncClient() as client:
            async def bodies() -> list[bytes]:
                return [(await client.get(url)).content for url in fleet.targets]

            async def advance(seconds: float) -> None:
                now[0] += seconds
                await asyncio.sleep(0.3)  # several ticks

            before = await bodies()
            await advance(5.0)
            assert await bodies() != before  # running: the values move
            fleet.freeze()
            await asyncio.sleep(0.1)
            frozen = await bodies()
            await advance(30.0)
            assert await bodies() == frozen
    finally:
        await fleet.stop()
