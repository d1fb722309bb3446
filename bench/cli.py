"""`python -m bench SUITE [--json]`: run one suite (or all) and print its figures.

Suites: relay, coldstart, handlers, memory, load, image, all. Progress goes to stderr, results to
stdout: one JSON object with --json, a table without.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from .context import Context, Options
from .stats import Figure

SUITES = ("relay", "coldstart", "handlers", "memory", "load", "image", "all")
ORDER = ("handlers", "relay", "memory", "coldstart", "load", "image")
"""`all` runs the suites in this order: the cheap, stack-free one first, then the ones that
share the real-agent stack, the load suite (which starts its own) last."""

Suite = Callable[[Context], Awaitable[dict[str, Figure]]]

_OPTION_HELP = {
    "relay_pairs": "relay turns and direct turns measured",
    "warmup_turns": "unmeasured warm-up turns each way",
    "think_s": "pause after each reply (seconds)",
    "back_to_back": "relay turns sent without a pause, reported apart",
    "reply_chars": "length of the scripted reply",
    "chunk_chars": "characters per model chunk",
    "chunk_delay_ms": "delay before each model chunk",
    "coldstarts": "measured cold starts (each beside a bare gateway start)",
    "open_sends": "wake-on-open runs: the page opens, the person sends later",
    "open_send_delay_s": "seconds between opening the page and sending",
    "task_cpus": "pin agent tasks and the bare gateway to these cores, e.g. 0 (1 vCPU)",
    "task_cpu_quota": "or a CFS quota of this many CPUs for them, e.g. 0.5 (root only)",
    "import_runs": "fresh interpreters per handler and per library set",
    "warm_invocations": "warm invocations per handler",
    "memory_replies": "replies sampled for peak RSS",
    "memory_growth_turns": "turns between the two RSS samples (growth check)",
    "load_users": "concurrent users with the agent double",
    "load_real_users": "concurrent users with the real agent (0 = skip)",
    "load_seconds": "length of each load run",
    "load_window_s": "throughput is reported per window of this length",
    "load_think_s": "mean pause between a reply and the next message",
}


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks of serverless-openclaw on the local stack (docs/performance.md).",
    )
    p.add_argument("suite", choices=SUITES)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--samples", action="store_true", help="include raw samples in the JSON")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder (state, logs)")
    p.add_argument("--work-dir", type=Path, default=None, help="where the scratch folder goes")
    defaults = Options()
    for f in fields(Options):
        if f.name in ("keep", "work_dir"):
            continue
        default = getattr(defaults, f.name)
        p.add_argument(
            f"--{f.name.replace('_', '-')}",
            type=type(default),
            default=default,
            help=f"{_OPTION_HELP.get(f.name, '')} (default {default})",
        )
    return p


def options_from(args: argparse.Namespace) -> Options:
    values = {
        f.name: getattr(args, f.name) for f in fields(Options) if f.name not in ("keep", "work_dir")
    }
    return Options(**values, keep=args.keep, work_dir=args.work_dir)


def suites() -> dict[str, Suite]:
    from . import coldstart, handlers, image, load, memory, relay

    return {
        "relay": relay.run,
        "coldstart": coldstart.run,
        "handlers": handlers.run,
        "memory": memory.run,
        "load": load.run,
        "image": image.run,
    }


async def run_suites(names: Sequence[str], ctx: Context) -> dict[str, Figure]:
    available = suites()
    figures: dict[str, Figure] = {}
    try:
        for name in names:
            started = time.monotonic()
            ctx.log(f"== {name}")
            try:
                figures.update(await available[name](ctx))
            except Exception as exc:
                # One broken suite must not throw away the others' figures.
                ctx.log(f"{name} failed:\n{traceback.format_exc()}")
                ctx.notes.setdefault("errors", {})[name] = repr(exc)[:500]
            ctx.notes.setdefault("suite_seconds", {})[name] = round(time.monotonic() - started, 1)
    finally:
        await ctx.close()
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    from .machine import load_average, machine

    args = parser().parse_args(argv)
    names = list(ORDER) if args.suite == "all" else [args.suite]

    def log(line: str) -> None:
        print(f"[bench {time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)

    ctx = Context(options_from(args), log=log)
    meta: dict[str, Any] = {
        "suite": args.suite,
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine(),
        "load_average_before": [round(x, 2) for x in load_average()],
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    started = time.monotonic()
    figures = asyncio.run(run_suites(names, ctx))
    meta["duration_s"] = round(time.monotonic() - started, 1)
    meta["load_average_after"] = [round(x, 2) for x in load_average()]
    meta["options"] = {
        f.name: getattr(ctx.options, f.name) for f in fields(Options) if f.name != "work_dir"
    }
    meta["notes"] = ctx.notes
    if args.keep:
        meta["work_dir"] = str(ctx.dir)

    from .report import as_json, table

    if args.json:
        print(json.dumps(as_json(figures, meta, samples=args.samples), indent=2))
    else:
        print(table(figures, meta))
    return 1 if ctx.notes.get("errors") else 0
