"""The geometry of the per-hour usage chart, computed here so the template only draws it
(a server-rendered SVG: no script and nothing loaded from elsewhere)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from app.throttling.usage import HourUsage

WIDTH, HEIGHT = 720, 180
LEFT, BOTTOM, TOP = 44, 22, 8  # room for the axis labels


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    ok_y: float
    ok_height: float
    throttled_y: float
    throttled_height: float
    label: str  # the hour, shown under every third bar
    title: str  # the tooltip and the accessible text


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    left: int
    baseline: float
    top: int
    scale_max: int
    bars: tuple[Bar, ...]


def nice_ceiling(value: int) -> int:
    """The axis maximum: 1, 2 or 5 times a power of ten, at least the value."""
    if value <= 1:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(step * power for step in (1, 2, 5, 10) if step * power >= value)


def hourly_chart(hours: Sequence[HourUsage]) -> Chart:
    """Stacked bars per hour: requests let through, and 429s on top of them."""
    scale_max = nice_ceiling(max((h.requests + h.throttled for h in hours), default=0))
    baseline = HEIGHT - BOTTOM
    plot_height = baseline - TOP
    slot = (WIDTH - LEFT) / max(1, len(hours))
    bars = []
    for i, hour in enumerate(hours):
        ok_h = plot_height * hour.requests / scale_max
        bad_h = plot_height * hour.throttled / scale_max
        bars.append(
            Bar(
                x=round(LEFT + i * slot + slot * 0.15, 1),
                width=round(slot * 0.7, 1),
                ok_y=round(baseline - ok_h, 1),
                ok_height=round(ok_h, 1),
                throttled_y=round(baseline - ok_h - bad_h, 1),
                throttled_height=round(bad_h, 1),
                label=f"{hour.start:%H}" if i % 3 == 0 else "",
                title=(
                    f"{hour.start:%Y-%m-%d %H}:00 UTC: {hour.requests} requests, "
                    f"{hour.throttled} refused (429), {hour.documents} documents"
                ),
            )
        )
    return Chart(WIDTH, HEIGHT, LEFT, baseline, TOP, scale_max, tuple(bars))
