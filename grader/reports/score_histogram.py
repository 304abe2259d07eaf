"""The score distribution of summary.html: counts of scores in equal ranges, drawn as an inline SVG
(`templates/histogram.svg.j2`) from numbers only."""
from __future__ import annotations

from dataclasses import dataclass

from grader.reports.page_templates import render

AXIS_Y, TALLEST = 160, 140   # the x axis's height in the picture, the tallest bar's height


@dataclass(frozen=True)
class Bar:
    x: int
    height: int
    width: int
    count: int
    name: str


@dataclass(frozen=True)
class Histogram:
    width: int
    slot: int
    bars: list[Bar]
    top: int
    height: int = 215
    axis_y: int = AXIS_Y


def histogram(scores: list[float], *, max_score: float, bins: int = 10) -> Histogram:
    """Counts of scores in `bins` equal ranges of [0, max_score]; one bar per whole point up to 20."""
    max_score = max_score or max(scores, default=1.0) or 1.0
    if max_score <= 20 and float(max_score).is_integer():
        bins = int(max_score) + 1            # one bar per whole point
        edges = [(i - 0.5, i + 0.5) for i in range(bins)]
        names = [f"{i}" for i in range(bins)]
    else:
        step = max_score / bins
        edges = [(i * step, (i + 1) * step) for i in range(bins)]
        names = [f"{lo:g}" for lo, _ in edges]
    counts = [0] * bins
    for s in scores:
        i = next((j for j, (lo, hi) in enumerate(edges) if lo <= s < hi), bins - 1)
        counts[i] += 1
    slot = max(18, min(40, 600 // bins))
    top = max(counts, default=0) or 1
    bars = [Bar(x=42 + slot * i, height=round(TALLEST * c / top), width=slot - 4, count=c, name=name)
            for i, (c, name) in enumerate(zip(counts, names))]
    return Histogram(width=50 + slot * bins, slot=slot, bars=bars, top=top)


def histogram_svg(scores: list[float], *, max_score: float, bins: int = 10) -> str:
    """The histogram as an inline SVG with labelled axes."""
    return render("histogram.svg.j2", histogram=histogram(scores, max_score=max_score, bins=bins))
