"""Traces: a 10,000-span trace opened in the waterfall and scrolled; the OTLP receiver fed
by the real OpenTelemetry SDK.

    python bench/traces.py [--spans 10000] [--rate 5000] [--seconds 10]

Part 1 opens the trace in a headless console (Textual's test driver, 160x45) and times
fetch + layout + first frame, then one key press at a time (down, page down, fold, jump
to the next error) and the time to render every line of the frame that follows.

Part 2 runs the embedded OTLP/HTTP receiver on a loopback port inside this process's
event loop, as the console does, and has a child process export spans to it with the SDK
(BatchSpanProcessor + OTLPSpanExporter, protobuf) at ``--rate`` spans per second. It
reports what arrived, the receiver's CPU, the event loop's worst lateness (how long a
key press would wait) and the store's memory against its bound.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.traces import ScriptedTraceSource  # noqa: E402

from watchdeck.core.otlp.spans import Span, SpanKind, StatusCode  # noqa: E402


def big_trace(count: int, seed: int = 7) -> list[Span]:
    """A request fanning out over ``count`` spans, depth up to ~12, some errors."""
    rng = random.Random(seed)
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    start = 1_700_000_000 * 10**9
    spans = [Span(trace_id, f"{1:016x}", "POST /v1/chat/completions", start,
                  start + 30 * 10**9, service="llm-gateway", kind=SpanKind.SERVER)]
    depth = {0: 0}
    for index in range(1, count):
        parent_index = rng.randrange(max(1, index - 200), index) if index > 1 else 0
        while depth[parent_index] >= 12:
            parent_index = rng.randrange(0, index)
        parent = spans[parent_index]
        length = parent.end_ns - parent.start_ns
        begin = parent.start_ns + rng.randrange(0, max(1, length // 2))
        end = min(parent.end_ns, begin + rng.randrange(1, max(2, length // 2)))
        span = Span(trace_id, f"{index + 1:016x}", f"op-{index % 97}", begin, end,
                    parent_span_id=parent.span_id, service=f"svc-{index % 9}",
                    kind=SpanKind.INTERNAL,
                    attributes={"gen_ai.request.model": "llama-3-8b", "i": str(index)})
        if rng.random() < 0.01:
            span.status = StatusCode.ERROR
        spans.append(span)
        depth[index] = depth[parent_index] + 1
    return spans


def waterfall(count: int) -> None:
    from tests.test_ui_traces import traces_app

    from watchdeck.ui.screens.waterfall import WaterfallScreen, WaterfallView

    spans = big_trace(count)
    trace_id = spans[0].trace_id

    async def run() -> None:
        import tempfile

        from watchdeck.cli import tune_gc

        app, _, tracer, _ = traces_app(Path(tempfile.mkdtemp()))
        assert isinstance(tracer, ScriptedTraceSource)
        tracer.add(spans)
        tune_gc()  # as the console does before it runs
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.pause(0.5)
            opened = time.perf_counter()
            app.open_trace(trace_id, source="tempo")
            while not (isinstance(app.screen, WaterfallScreen)
                       and app.screen.trace_tree is not None):
                await asyncio.sleep(0.001)
            await pilot.pause()  # the first frame is painted
            first_frame = time.perf_counter() - opened
            screen = app.screen
            view = screen.query_one(WaterfallView)

            def frame(cached: bool = True) -> float:
                if not cached:
                    view.clear_cache()  # the worst case: no strip cached
                began = time.perf_counter()
                for y in range(view.size.height):
                    view.render_line(y)
                return time.perf_counter() - began

            # Each key's own work (its action, as the binding calls it) plus drawing every
            # line of the next frame, timed here; Textual's message passing and the
            # compositor's diff come on top (a no-op key costs about that much alone).
            actions = {"down": lambda: screen.action_move(1),
                       "pagedown": lambda: screen.action_page(1),
                       "e": lambda: screen.action_next_error(True),
                       "space": screen.action_toggle}
            keys: dict[str, list[float]] = {}
            for key in ["down"] * 40 + ["pagedown"] * 20 + ["e"] * 20 + ["space", "down"] * 10:
                began = time.perf_counter()
                actions[key]()  # type: ignore[misc]
                handled = time.perf_counter() - began
                keys.setdefault(key, []).append(handled + frame())
                await pilot.pause()
            noop = []
            for _ in range(10):
                began = time.perf_counter()
                await pilot.press("x")
                noop.append(time.perf_counter() - began)
            print(f"waterfall, {count:,} spans ({len(screen.trace_tree.services)} services):")
            print(f"  open (fetch + layout + first frame): {first_frame * 1000:.0f} ms "
                  "(target < 300 ms)")
            frames = [frame(cached=False) for _ in range(30)]
            print(f"  one full frame, no cache: median {statistics.median(frames) * 1000:.1f}"
                  f" ms, worst {max(frames) * 1000:.1f} ms (target < 16 ms)")
            for key, times in keys.items():
                print(f"  key {key:8} + frame: median {statistics.median(times) * 1000:.1f} ms,"
                      f" worst {max(times) * 1000:.1f} ms")
            print(f"  (a key press round trip through the test driver, no-op key: median "
                  f"{statistics.median(noop) * 1000:.0f} ms)")

    asyncio.run(run())


EXPORTER = textwrap.dedent("""
    import sys, time
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    endpoint, rate, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    provider = TracerProvider(resource=Resource.create({"service.name": "bench"}))
    provider.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=endpoint + "/v1/traces"), max_queue_size=100000,
        max_export_batch_size=512, schedule_delay_millis=200))
    tracer = provider.get_tracer("bench")
    sent, began = 0, time.monotonic()
    while time.monotonic() - began < seconds:
        due = int((time.monotonic() - began) * rate)
        while sent < due:
            with tracer.start_as_current_span("llm_request") as root:
                root.set_attribute("gen_ai.request.model", "llama-3-8b")
                with tracer.start_as_current_span("prefill"):
                    pass
                with tracer.start_as_current_span("decode"):
                    pass
            sent += 3
        time.sleep(0.005)
    provider.shutdown()
    print(sent)
""")


def receiver(rate: int, seconds: float, max_spans: int) -> None:
    from watchdeck.core.otlp.receiver import OTLPReceiver

    async def run() -> None:
        served = OTLPReceiver("127.0.0.1", 0, max_spans=max_spans)
        await served.start()
        lateness: list[float] = []
        stop = asyncio.Event()

        async def watch_loop() -> None:
            while not stop.is_set():
                began = time.perf_counter()
                await asyncio.sleep(0.01)
                lateness.append(time.perf_counter() - began - 0.01)

        watcher = asyncio.create_task(watch_loop())
        cpu_before = resource.getrusage(resource.RUSAGE_SELF)
        began = time.perf_counter()
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", EXPORTER, str(served.url), str(rate), str(seconds),
            stdout=subprocess.PIPE, env={**os.environ, "OTEL_SDK_DISABLED": "false"})
        out, _ = await child.communicate()
        wall = time.perf_counter() - began
        cpu_after = resource.getrusage(resource.RUSAGE_SELF)
        stop.set()
        await watcher
        sent = int(out.decode().strip() or 0)
        stored = len(served.spans)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (
            cpu_after.ru_stime - cpu_before.ru_stime)
        print(f"OTLP receiver, SDK exporting {rate:,} spans/s for {seconds:.0f} s "
              f"(max_spans {max_spans:,}):")
        print(f"  sent {sent:,}, received {served.spans.received:,}, kept {stored:,} "
              f"({served.spans.received / wall:,.0f} spans/s over {wall:.1f} s)")
        print(f"  receiver CPU {cpu / wall * 100:.0f} % of one core; event loop lateness "
              f"p99 {sorted(lateness)[int(len(lateness) * 0.99)] * 1000:.1f} ms, worst "
              f"{max(lateness) * 1000:.1f} ms")
        print(f"  process max RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}"
              " MiB")
        await served.stop()

    asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--spans", type=int, default=10_000)
    parser.add_argument("--rate", type=int, default=5_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--max-spans", type=int, default=200_000)
    parser.add_argument("--skip-receiver", action="store_true")
    args = parser.parse_args()
    waterfall(args.spans)
    if not args.skip_receiver:
        receiver(args.rate, args.seconds, args.max_spans)


if __name__ == "__main__":
    main()
