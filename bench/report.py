"""The issue's targets, and the two ways results are shown: one JSON object, or a table."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .stats import Figure


@dataclass(frozen=True)
class Target:
    figure: str
    op: str
    limit: float
    why: str

    @property
    def check(self) -> Callable[[float, float], bool]:
        return {"<=": operator.le, "==": operator.eq, ">=": operator.ge}[self.op]

    def met(self, figure: Figure) -> bool:
        return self.check(round(figure.value, 6), self.limit)


TARGETS: tuple[Target, ...] = (
    Target("relay_overhead_ratio", "<=", 1.15, "warm turns: relay adds at most 15 %"),
    Target("posts_per_stream_s", "<=", 10.5, "coalesced: ~10 posts per second of streaming"),
    Target(
        "coldstart_vs_bare_ratio",
        "<=",
        0.8,
        "cold start (send -> first text) at most 0.8x a bare gateway's start -> first text",
    ),
    Target(
        "open_then_send_first_text_ms",
        "<=",
        2000,
        "woken on open, a message sent 15 s later gets its first text within 2 s",
    ),
    Target(
        "image_content_mb",
        "<=",
        600,
        "the image's Node + OpenClaw + Python venv, uncompressed",
    ),
    Target("handler_import_ratio", "<=", 1.5, "handlers import at most 1.5x their libraries"),
    Target("bridge_rss_mb", "<=", 80, "the bridge/supervisor stays small"),
    Target("load_lost", "==", 0, "no message lost under load (agent double)"),
    Target("load_real_lost", "==", 0, "no message lost under load (real OpenClaw)"),
)


def targets_json(figures: Mapping[str, Figure]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for target in TARGETS:
        figure = figures.get(target.figure)
        if figure is None:
            continue
        result[target.figure] = {
            "target": f"{target.op} {target.limit:g}",
            "value": round(figure.value, 3),
            "met": target.met(figure),
            "why": target.why,
        }
    return result


def as_json(
    figures: Mapping[str, Figure], meta: Mapping[str, Any], *, samples: bool = False
) -> dict[str, Any]:
    """One object: every figure by name at the top level, then `targets` and `meta`."""
    data: dict[str, Any] = {name: f.as_json(samples=samples) for name, f in figures.items()}
    data["targets"] = targets_json(figures)
    data["meta"] = dict(meta)
    return data


def _number(value: float, unit: str) -> str:
    if unit == "x":
        return f"{value:.2f}x"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def table(figures: Mapping[str, Figure], meta: Mapping[str, Any]) -> str:
    """A plain-text table (rich renders it when stdout is a terminal)."""
    from io import StringIO

    from rich.console import Console
    from rich.table import Table

    targets = {t.figure: t for t in TARGETS}
    grid = Table(title="serverless-openclaw benchmarks", show_lines=False)
    for column, justify in (
        ("figure", "left"),
        ("median", "right"),
        ("p95", "right"),
        ("n", "right"),
        ("unit", "left"),
        ("target", "left"),
    ):
        grid.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, figure in figures.items():
        target = targets.get(name)
        verdict = ""
        if target is not None:
            verdict = f"{target.op} {target.limit:g} " + ("ok" if target.met(figure) else "MISSED")
        grid.add_row(
            name,
            _number(figure.median, figure.unit),
            _number(figure.p95, figure.unit),
            str(figure.n),
            figure.unit,
            verdict,
        )
    buffer = StringIO()
    console = Console(file=buffer, width=110, force_terminal=False)
    console.print(grid)
    load = meta.get("load_average_before"), meta.get("load_average_after")
    console.print(
        f"machine: {meta.get('machine', {}).get('cpus')} cpus, load average before {load[0]} "
        f"after {load[1]}; {meta.get('duration_s')} s"
    )
    return buffer.getvalue()
