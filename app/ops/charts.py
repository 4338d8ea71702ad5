"""The console's small charts as geometry for server-drawn SVG (no script, nothing loaded from
elsewhere, no style attributes: the template only places shapes with classes). The percentile the
figures share is app.figures'."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

SPARK_WIDTH, SPARK_HEIGHT = 120, 24


@dataclass(frozen=True)
class Spark:
    width: int
    height: int
    bars: tuple[tuple[float, float, float, float, int], ...]  # x, y, width, height, value
    peak: int


def spark(values: Sequence[int]) -> Spark:
    """One bar per value, scaled to the largest (a flat line of zeros stays empty)."""
    peak = max(values, default=0)
    step = SPARK_WIDTH / max(len(values), 1)
    bars = []
    for index, value in enumerate(values):
        height = (value / peak) * (SPARK_HEIGHT - 2) if peak else 0.0
        bars.append(
            (round(index * step, 2), round(SPARK_HEIGHT - height, 2), round(step - 1, 2),
             round(height, 2), value)
        )  # fmt: skip
    return Spark(SPARK_WIDTH, SPARK_HEIGHT, tuple(bars), peak)
