"""Debian's Chromium driven by Python's playwright package (no Node, no downloaded browser)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (scripts/setup installs it)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Python's playwright package is missing (scripts/setup installs the test extra)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Debian Chromium (the playwright Browser), closed on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=FLAGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


# Every uPlot axis of every chart: the room the axis has beside the plot, and the widest of its
# tick labels as the canvas measures them in the axis font (uPlot draws labels on the canvas,
# so there is no element to measure). A y axis label fits when it is narrower than its room
# minus the tick and gap; an x axis label fits when it is no taller than its room.
AXES_FIT_JS = """
() => [...document.querySelectorAll("figure.chart")].filter((f) => f.querySelector("canvas"))
  .map((f) => ({ chart: f.dataset.chart, axes: JSON.parse(f.dataset.axes || "[]") }))
"""


def label_overflows(figures: list[dict[str, Any]]) -> list[str]:
    """What does not fit in the charts' axes, as readable lines (empty when all fits)."""
    problems = []
    for figure in figures:
        if not figure["axes"]:
            problems.append(f"{figure['chart']}: the chart reports no axes")
        for axis in figure["axes"]:
            if axis["widest"] > axis["room"]:
                problems.append(
                    f"{figure['chart']} {axis['side']} axis: label {axis['label']!r} is "
                    f"{axis['widest']:.1f} px, room {axis['room']:.1f} px"
                )
    return problems
