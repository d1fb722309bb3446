"""Summaries of repeated measurements: median and p95, and ratios of two such figures.

A figure is always reported as median and p95 over its runs, never a mean: on a shared
2-core machine the distribution has a long right tail (another engineer's test run, a GC
pause) that would drag a mean around while the median stays put, and the p95 shows the tail
honestly instead of hiding it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal


def percentile(values: Iterable[float], q: float) -> float:
    """The q-th percentile (0..100) with linear interpolation between closest ranks
    (numpy's default), so that the median of an even count is the mean of the middle two."""
    data = sorted(float(v) for v in values)
    if not data:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError("q must be between 0 and 100")
    position = (len(data) - 1) * q / 100
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return data[low]
    return data[low] + (data[high] - data[low]) * (position - low)


def median(values: Iterable[float]) -> float:
    return percentile(values, 50)


@dataclass(frozen=True)
class Figure:
    """One named measurement: median and p95 over `n` runs (a single value has n=1)."""

    median: float
    p95: float
    n: int
    unit: str = "ms"
    note: str = ""
    headline: Literal["median", "p95"] = "median"
    """Which of the two the figure's name refers to (`load_ack_p95_ms` -> p95); targets are
    checked against it and JSON repeats it as `value`."""
    samples: tuple[float, ...] = field(default=(), repr=False, compare=False)

    @classmethod
    def of(
        cls,
        values: Sequence[float],
        unit: str = "ms",
        note: str = "",
        headline: Literal["median", "p95"] = "median",
    ) -> Figure:
        return cls(
            median=median(values),
            p95=percentile(values, 95),
            n=len(values),
            unit=unit,
            note=note,
            headline=headline,
            samples=tuple(float(v) for v in values),
        )

    @property
    def value(self) -> float:
        return self.median if self.headline == "median" else self.p95

    @classmethod
    def single(cls, value: float, unit: str = "", note: str = "") -> Figure:
        return cls(median=float(value), p95=float(value), n=1, unit=unit, note=note)

    def as_json(self, *, samples: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "value": round(self.value, 3),
            "median": round(self.median, 3),
            "p95": round(self.p95, 3),
            "n": self.n,
            "unit": self.unit,
        }
        if self.note:
            data["note"] = self.note
        if samples and self.samples:
            data["samples"] = [round(s, 3) for s in self.samples]
        return data


def ratio(numerator: Figure, denominator: Figure, note: str = "") -> Figure:
    """numerator / denominator as a figure: the ratio of the medians and of the p95s.

    Ratios of the summaries (not the median of per-run ratios) because the two series are
    measured side by side but not paired one to one: a per-run ratio divides two independent
    noisy samples and its tail mostly measures the noise.
    """
    if denominator.median <= 0 or denominator.p95 <= 0:
        raise ValueError("ratio with a non-positive denominator")
    return Figure(
        median=numerator.median / denominator.median,
        p95=numerator.p95 / denominator.p95,
        n=min(numerator.n, denominator.n),
        unit="x",
        note=note,
    )


def rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else 0.0
