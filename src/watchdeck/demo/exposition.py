"""The simulation's state as prometheus_client metric families, one collector per endpoint.

Names, types, labels and buckets are vLLM V1's and the DCGM exporter's (see
../shared/research/ai-serving-metrics.md); prometheus_client does the rendering, so the
text and OpenMetrics formats are the real ones: counters gain ``_total``, histograms
``_bucket``/``_sum``/``_count`` with float ``le``, and exemplars appear in OpenMetrics only.
There are no ``_created`` series, as with vLLM (it runs prometheus_client in
multiprocess mode).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.samples import Exemplar as PromExemplar
from prometheus_client.utils import floatToGoString

from watchdeck.demo import gpus as gpu_model
from watchdeck.demo.gateway import DRIFT_FEATURE, Gateway
from watchdeck.demo.gpus import Gpu
from watchdeck.demo.histogram import Histogram
from watchdeck.demo.replica import Replica
from watchdeck.demo.workload import FINISH_REASONS

VLLM_LABELS = ["model_name", "engine"]
ENGINE = "0"   # one engine core per server


def histogram_family(name: str, documentation: str, labelnames: list[str],
                     series: list[tuple[list[str], Histogram]]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=labelnames)
    for labels, histogram in series:
        buckets: list = []
        cumulative = histogram.cumulative()
        bounds = [floatToGoString(b) for b in histogram.bounds] + ["+Inf"]
        for le, count, exemplar in zip(bounds, cumulative, histogram.exemplars):
            if exemplar is None:
                buckets.append((le, count))
            else:
                buckets.append((le, count, PromExemplar(
                    {"trace_id": exemplar.trace_id, "span_id": exemplar.span_id},
                    exemplar.value, exemplar.timestamp)))
        family.add_metric(labels, buckets, histogram.total)
    return family


class VllmCollector:
    """What ``GET /metrics`` on one vLLM OpenAI-compatible server returns (V1 engine)."""

    def __init__(self, replica: Replica) -> None:
        self.replica = replica

    def collect(self) -> Iterator[Metric]:
        replica = self.replica
        m = replica.metrics
        labels = [replica.spec.name, ENGINE]

        def gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
            family = GaugeMetricFamily(name, doc, labels=VLLM_LABELS)
            family.add_metric(labels, value)
            return family

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            family = CounterMetricFamily(name, doc, labels=VLLM_LABELS)
            family.add_metric(labels, value)
            return family

        def histogram(name: str, doc: str, values: Histogram) -> HistogramMetricFamily:
            return histogram_family(name, doc, VLLM_LABELS, [(labels, values)])

        yield gauge("vllm:num_requests_running",
                    "Number of requests in model execution batches.", len(replica.running))
        yield gauge("vllm:num_requests_waiting",
                    "Number of requests waiting to be processed.", len(replica.waiting))
        yield gauge("vllm:kv_cache_usage_perc",
                    "KV-cache usage. 1 means 100 percent usage.", replica.kv_usage)
        yield counter("vllm:prefix_cache_queries",
                      "Prefix cache queries, in terms of number of queried tokens.",
                      m.prefix_cache_queries)
        yield counter("vllm:prefix_cache_hits",
                      "Prefix cache hits, in terms of number of cached tokens.",
                      m.prefix_cache_hits)
        yield counter("vllm:num_preemptions",
                      "Cumulative number of preemption from the engine.", m.preemptions)
        yield counter("vllm:prompt_tokens", "Number of prefill tokens processed.",
                      m.prompt_tokens)
        yield counter("vllm:generation_tokens", "Number of generation tokens processed.",
                      m.generation_tokens)
        success = CounterMetricFamily("vllm:request_success",
                                      "Count of successfully processed requests.",
                                      labels=[*VLLM_LABELS, "finished_reason"])
        for reason in FINISH_REASONS:
            success.add_metric([*labels, reason], m.success[reason])
        yield success
        yield histogram("vllm:request_prompt_tokens",
                        "Number of prefill tokens processed.", m.request_prompt_tokens)
        yield histogram("vllm:request_generation_tokens",
                        "Number of generation tokens processed.", m.request_generation_tokens)
        yield histogram("vllm:request_max_num_generation_tokens",
                        "Histogram of maximum number of requested generation tokens.",
                        m.request_max_tokens)
        yield histogram("vllm:request_params_max_tokens",
                        "Histogram of the max_tokens request parameter.", m.request_max_tokens)
        yield histogram("vllm:time_to_first_token_seconds",
                        "Histogram of time to first token in seconds.", m.ttft)
        yield histogram("vllm:inter_token_latency_seconds",
                        "Histogram of inter-token latency in seconds.", m.itl)
        yield histogram("vllm:request_time_per_output_token_seconds",
                        "Histogram of time_per_output_token_seconds per request.", m.tpot)
        yield histogram("vllm:e2e_request_latency_seconds",
                        "Histogram of e2e request latency in seconds.", m.e2e)
        yield histogram("vllm:request_queue_time_seconds",
                        "Histogram of time spent in WAITING phase for request.", m.queue)
        yield histogram("vllm:request_inference_time_seconds",
                        "Histogram of time spent in RUNNING phase for request.", m.inference)
        yield histogram("vllm:request_prefill_time_seconds",
                        "Histogram of time spent in PREFILL phase for request.", m.prefill)
        yield histogram("vllm:request_decode_time_seconds",
                        "Histogram of time spent in DECODE phase for request.", m.decode)
        yield histogram("vllm:request_num_preemptions",
                        "Number of preemptions per finished request.", m.request_preemptions)


DCGM_LABELS = ["gpu", "UUID", "pci_bus_id", "device", "modelName", "Hostname",
               "DCGM_FI_DRIVER_VERSION", "container", "namespace", "pod"]
KUBERNETES_NAMESPACE = "llm-serving"


class DcgmCollector:
    """What one node's dcgm-exporter returns (default counters, Kubernetes pod mapping)."""

    def __init__(self, gpus: list[Gpu], pods: list[str]) -> None:
        self.gpus = gpus
        self.pods = pods   # pod name of each replica

    def _labels(self, gpu: Gpu) -> list[str]:
        ident = gpu.identity
        pod = self.pods[gpu.replicas[0]]
        return [str(ident.index), ident.uuid, ident.pci_bus_id, f"nvidia{ident.index}",
                gpu_model.MODEL_NAME, gpu_model.HOSTNAME, gpu_model.DRIVER_VERSION,
                "vllm", KUBERNETES_NAMESPACE, pod]

    def collect(self) -> Iterator[Metric]:
        fields: list[tuple[str, str, object]] = [
            ("DCGM_FI_DEV_SM_CLOCK", "SM clock frequency (in MHz).",
             lambda g: g.sm_clock),
            ("DCGM_FI_DEV_MEM_CLOCK", "Memory clock frequency (in MHz).",
             lambda g: gpu_model.MEM_CLOCK),
            ("DCGM_FI_DEV_MEMORY_TEMP", "Memory temperature (in C).",
             lambda g: round(g.temp + 6)),
            ("DCGM_FI_DEV_GPU_TEMP", "GPU temperature (in C).", lambda g: round(g.temp)),
            ("DCGM_FI_DEV_POWER_USAGE", "Power draw (in W).", lambda g: round(g.power, 3)),
            ("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).", lambda g: round(g.util)),
            ("DCGM_FI_DEV_MEM_COPY_UTIL", "Memory utilization (in %).",
             lambda g: round(g.util * 0.55)),
            ("DCGM_FI_DEV_FB_FREE", "Framebuffer memory free (in MiB).",
             lambda g: round(g.fb_free)),
            ("DCGM_FI_DEV_FB_USED", "Framebuffer memory used (in MiB).",
             lambda g: round(g.fb_used)),
            ("DCGM_FI_DEV_FB_RESERVED", "Framebuffer memory reserved (in MiB).",
             lambda g: gpu_model.FB_RESERVED_MIB),
            ("DCGM_FI_PROF_GR_ENGINE_ACTIVE", "Ratio of time the graphics engine is active.",
             lambda g: round(g.util / 100 * 0.97, 6)),
            ("DCGM_FI_PROF_PIPE_TENSOR_ACTIVE",
             "Ratio of cycles the tensor (HMMA) pipe is active.",
             lambda g: round(g.util / 100 * 0.42, 6)),
            ("DCGM_FI_PROF_DRAM_ACTIVE",
             "Ratio of cycles the device memory interface is active sending or receiving "
             "data.", lambda g: round(g.util / 100 * 0.58, 6)),
        ]
        for name, doc, value_of in fields:
            family = GaugeMetricFamily(name, doc, labels=DCGM_LABELS)
            for gpu in self.gpus:
                family.add_metric(self._labels(gpu), value_of(gpu))  # type: ignore[operator]
            yield family
        # The XID gauge carries the code and its text as labels too (dcgm-exporter does).
        xid = GaugeMetricFamily("DCGM_FI_DEV_XID_ERRORS",
                                "Value of the last XID error encountered.",
                                labels=[*DCGM_LABELS, "err_code", "err_msg"])
        for gpu in self.gpus:
            xid.add_metric([*self._labels(gpu), str(gpu.xid), gpu_model.XID_MESSAGES[gpu.xid]],
                           gpu.xid)
        yield xid


class GatewayCollector:
    """The invented business and model-quality signals of the API gateway."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    def collect(self) -> Iterator[Metric]:
        models = self.gateway.models
        requests = CounterMetricFamily("llm_gateway_requests",
                                       "Requests answered by the gateway, by HTTP status.",
                                       labels=["model_name", "code"])
        feedback = CounterMetricFamily("llm_gateway_feedback",
                                       "User feedback on answers (thumbs up or down).",
                                       labels=["model_name", "rating"])
        drift = GaugeMetricFamily("llm_gateway_model_drift_psi",
                                  "Population stability index of recent traffic against the "
                                  "model's reference mix (over 0.2: significant drift).",
                                  labels=["model_name", "feature"])
        for name, signals in models.items():
            for code, count in signals.requests.items():
                requests.add_metric([name, code], count)
            for rating, count in signals.feedback.items():
                feedback.add_metric([name, rating], count)
            drift.add_metric([name, DRIFT_FEATURE], round(signals.drift_psi, 6))
        yield requests
        yield histogram_family("llm_gateway_request_cost_usd",
                               "Cost of each request in US dollars (tokens at list price).",
                               ["model_name"],
                               [([n], s.cost) for n, s in models.items()])
        yield feedback
        yield histogram_family("llm_gateway_prediction_confidence",
                               "Mean token probability of each answer.",
                               ["model_name"],
                               [([n], s.confidence) for n, s in models.items()])
        yield drift
