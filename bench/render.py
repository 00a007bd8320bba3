"""Render cost of one timeseries panel, and plotext on the same data for comparison.

    python bench/render.py [--repeat N]

Figures: milliseconds per render (median and best of N), for
  * the braille renderer alone (render_timechart),
  * the whole panel inside a headless app (series collection, legend, chart strips),
  * plotext's build() of the same series at the same size, when plotext is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.style import Style  # noqa: E402

from watchdeck.core.model import QueryResult, Series  # noqa: E402
from watchdeck.ui.charts.braille import PlotSeries  # noqa: E402
from watchdeck.ui.charts.timechart import render_timechart  # noqa: E402

CASES = [  # (series, points, width, height)
    (10, 120, 120, 14),
    (10, 240, 120, 14),
    (50, 600, 120, 14),
    (50, 600, 200, 50),
]
NOW = 1_767_225_600.0


def make_series(count: int, points: int) -> list[Series]:
    step = 3600 / points
    stamps = tuple(NOW - 3600 + k * step for k in range(points))
    return [
        Series({"replica": f"r{i}"}, stamps,
               tuple(10 + i + 5 * math.sin(k / 17 + i) + (k % 7) / 10 for k in range(points)))
        for i in range(count)
    ]


def timed(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), min(samples)


def bench_renderer(repeat: int) -> None:
    print("braille renderer alone (render_timechart)")
    for count, points, width, height in CASES:
        series = make_series(count, points)
        plot = [PlotSeries(s.timestamps, s.values, Style(color=f"color({i % 8 + 1})"))
                for i, s in enumerate(series)]
        median, best = timed(lambda: render_timechart(plot, width, height, NOW - 3600, NOW,
                                                      unit="s"), repeat)
        print(f"  {count:>3} series x {points:>4} points at {width}x{height}: "
              f"median {median:6.2f} ms   best {best:6.2f} ms")


def bench_plotext(repeat: int) -> None:
    try:
        import plotext
    except ImportError:
        print("plotext: not installed (pip install -e '.[bench]')")
        return
    print("plotext build() of the same data (braille marker, colour)")
    for count, points, width, height in CASES:
        series = make_series(count, points)

        def draw() -> str:
            plotext.clear_figure()
            plotext.plotsize(width, height)
            plotext.theme("dark")
            for item in series:
                plotext.plot(list(item.timestamps), list(item.values), marker="braille")
            return plotext.build()

        median, best = timed(draw, max(3, repeat // 5))
        print(f"  {count:>3} series x {points:>4} points at {width}x{height}: "
              f"median {median:6.2f} ms   best {best:6.2f} ms")


async def bench_panel(repeat: int) -> None:
    """The whole panel: what a data update costs on the event loop."""
    from tests.support.synthetic import synthetic_app

    from watchdeck.ui.charts.widget import ChartView
    from watchdeck.ui.panels.timeseries import TimeseriesPanel

    print("whole timeseries panel in a headless app (collect, legend, chart strips)")
    for count, points, width, height in CASES[:3]:
        app, _, _ = synthetic_app()
        async with app.run_test(size=(width + 40, 60)) as pilot:
            await pilot.pause(0.2)
            panel = app.screen.query(TimeseriesPanel).first()
            panel.styles.width = width
            panel.styles.height = height
            app.screen.maximize(panel, container=False)
            await pilot.pause(0.2)
            chart = panel.query_one(ChartView)
            results = [QueryResult("matrix", tuple(make_series(count, points)))]

            def draw() -> None:
                panel.draw(results)
                chart._ensure_strips()  # noqa: SLF001 - what render_line does on the next frame
                for line in panel.query_one(".legend").render_lines(
                        panel.query_one(".legend").region.reset_offset):  # noqa: B023
                    del line

            median, best = timed(draw, repeat)
            print(f"  {count:>3} series x {points:>4} points, panel {panel.size.width}x"
                  f"{panel.size.height}: median {median:6.2f} ms   best {best:6.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {args.repeat} runs each\n")
    bench_renderer(args.repeat)
    print()
    asyncio.run(bench_panel(args.repeat))
    print()
    bench_plotext(args.repeat)


if __name__ == "__main__":
    main()
