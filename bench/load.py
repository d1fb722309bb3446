"""load: many people chatting at once for a fixed time; nothing may be lost.

Each simulated person holds one WebSocket and loops until the time is up: send a message,
wait for the ack (the control plane has queued it durably), wait for the streamed reply,
pause (uniformly 0.5-1.5 x `load_think_s`), repeat. After the time is up, replies still on
their way get two minutes; then every acknowledged message must have been answered at the
client exactly once and both its messages must be stored (read back through the HTTP API).

Two runs: `load_users` people (default 50) whose agents are the AGENT DOUBLE
(bench/agent_double.py: the real bridge, inbox, stores and delivery code with a fake OpenClaw
gateway — fifty real gateways would need ~70 GB), then `load_real_users` (default 3) with the
real agent and OpenClaw on the shared real-agent stack.

Throughput is acknowledged messages per `load_window_s` window (median and p95 over the
windows); ack latency is send -> ack over every message (`load_ack_p95_ms` names its p95).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psutil

from harness import DevStackProcess, Person, WsClient, new_id

from .context import Context, bench_stack
from .stats import Figure, rate


@dataclass
class Sent:
    message_id: str
    user: Person
    ws: WsClient
    sent: float
    ack: float | None = None
    error: str | None = None
    end: float | None = None


@dataclass
class LoadResult:
    records: list[Sent] = field(default_factory=list)
    started: float = 0.0
    stopped: float = 0.0
    cpu_s: dict[str, float] = field(default_factory=dict)
    """CPU seconds spent during the timed window, by who spent them."""


def _cpu(process: psutil.Process) -> float:
    with contextlib.suppress(psutil.Error):
        times = process.cpu_times()
        return float(times.user + times.system)
    return 0.0


def cpu_snapshot(stack_pid: int) -> dict[str, float]:
    """CPU seconds so far: the dev stack process (moto, API Gateway emulator, Lambda
    handlers, offline model), its agent tasks (with their OpenClaw processes), this
    benchmark (the simulated browsers), and the whole machine (everyone's, other users' too).
    Agent tasks must outlive the window for their share to count, which they do here."""
    stack = psutil.Process(stack_pid)
    machine = psutil.cpu_times()
    idle = machine.idle + getattr(machine, "iowait", 0.0)
    return {
        "dev_stack": _cpu(stack),
        "agent_tasks": sum(_cpu(c) for c in stack.children(recursive=True)),
        "bench_clients": _cpu(psutil.Process()),
        "machine_busy": sum(machine) - idle,
    }


async def person(
    user: Person,
    ws: WsClient,
    result: LoadResult,
    until: float,
    think_s: float,
    rng: random.Random,
) -> None:
    while time.monotonic() < until:
        message = new_id()
        after = len(ws.frames)
        record = Sent(message, user, ws, sent=time.monotonic())
        result.records.append(record)
        await ws.send({"action": "send", "id": message, "text": f"bench load {message[:6]}"})
        try:
            ack = await ws.ack(message, timeout=60, after=after)
        except TimeoutError:
            record.error = "no ack"
            continue
        if ack.data.get("type") == "error":
            record.error = str(ack.data.get("code"))
            await asyncio.sleep(think_s)
            continue
        record.ack = ack.at
        with contextlib.suppress(TimeoutError):
            end = await ws.reply_end(message, timeout=120, after=after)
            record.end = end.at
        await asyncio.sleep(rng.uniform(0.5, 1.5) * think_s)


async def wait_all_running(stack: DevStackProcess, users: list[Person], timeout: float) -> None:
    """Every user's task row says running (one scan per check, not one request per user)."""
    wanted = {u.user_id for u in users}
    table = f"{stack.info['prefix']}-task-state"
    deadline = time.monotonic() + timeout
    while True:
        items = await asyncio.to_thread(
            lambda: stack.aws("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
        )
        running = {i["userId"]["S"] for i in items if i.get("state", {}).get("S") == "running"}
        if wanted <= running:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(wanted - running)} agents not running after {timeout} s")
        await asyncio.sleep(1)


async def run_load(
    stack: DevStackProcess,
    users: list[Person],
    seconds: float,
    think_s: float,
    log: Any,
) -> LoadResult:
    result = LoadResult()
    sockets = [u.ws() for u in users]
    async with contextlib.AsyncExitStack() as exits:
        for ws in sockets:
            await exits.enter_async_context(ws)
        log(f"load: {len(users)} sockets open; waiting for every agent to run")
        await wait_all_running(stack, users, timeout=900)
        log(f"load: {len(users)} people chatting for {seconds:.0f} s")
        rng = random.Random(7)
        assert stack.pid is not None
        before = cpu_snapshot(stack.pid)
        result.started = time.monotonic()
        until = result.started + seconds
        await asyncio.gather(
            *(
                person(u, ws, result, until, think_s, random.Random(rng.random()))
                for u, ws in zip(users, sockets, strict=True)
            )
        )
        result.stopped = time.monotonic()
        after = cpu_snapshot(stack.pid)
        result.cpu_s = {k: after[k] - before[k] for k in before}
        # Late replies (a reply that timed out above may still come).
        deadline = time.monotonic() + 120
        for record in result.records:
            if record.ack is not None and record.end is None:
                with contextlib.suppress(TimeoutError):
                    end = await record.ws.reply_end(
                        record.message_id, timeout=max(0.1, deadline - time.monotonic())
                    )
                    record.end = end.at
    return result


def audit(result: LoadResult) -> dict[str, int]:
    """Answered exactly once at the client, and both messages stored."""
    acked = [r for r in result.records if r.ack is not None]
    ends: Counter[str] = Counter()
    for ws in {id(r.ws): r.ws for r in result.records}.values():
        for frame in ws.frames:
            if frame.get("type") == "stream_end":
                ends[str(frame.get("id"))] += 1
    stored: dict[str, Counter[str]] = {}
    for user in {r.user.user_id: r.user for r in result.records}.values():
        counts: Counter[str] = Counter(m["id"] for m in user.messages())
        stored[user.user_id] = counts
    lost_client = sum(1 for r in acked if ends[r.message_id] == 0)
    lost_stored = sum(
        1
        for r in acked
        if stored[r.user.user_id][r.message_id] != 1
        or stored[r.user.user_id][f"{r.message_id}:r"] != 1
    )
    duplicated = sum(1 for r in acked if ends[r.message_id] > 1)
    return {
        "sent": len(result.records),
        "acked": len(acked),
        "answered": sum(1 for r in acked if ends[r.message_id] >= 1),
        "refused": sum(1 for r in result.records if r.error is not None),
        "lost": max(lost_client, lost_stored),
        "lost_at_client": lost_client,
        "lost_in_store": lost_stored,
        "duplicated": duplicated,
    }


def figures_of(
    result: LoadResult, counts: dict[str, int], prefix: str, window_s: float
) -> dict[str, Figure]:
    acked = [r for r in result.records if r.ack is not None]
    duration = result.stopped - result.started
    windows = max(1, int(duration // window_s))
    per_window = [0] * windows
    for r in acked:
        assert r.ack is not None
        index = int((r.ack - result.started) // window_s)
        if 0 <= index < windows:
            per_window[index] += 1
    rates = [rate(c, window_s) for c in per_window]
    ack_ms = [((r.ack or 0) - r.sent) * 1000 for r in acked]
    reply_ms = [((r.end or 0) - r.sent) * 1000 for r in acked if r.end is not None]
    total_rate = rate(len(acked), duration)
    figures = {
        f"{prefix}_msgs_per_s": Figure.of(
            rates, "msg/s", f"acked per {window_s:g} s window; overall {total_rate:.1f}/s"
        ),
        f"{prefix}_ack_p95_ms": Figure.of(ack_ms, note="send -> ack", headline="p95"),
        f"{prefix}_lost": Figure.single(counts["lost"], "msgs", "acked but not answered once"),
    }
    if reply_ms:
        figures[f"{prefix}_reply_ms"] = Figure.of(reply_ms, note="send -> stream_end")
    figures[f"{prefix}_duplicated"] = Figure.single(counts["duplicated"], "msgs")
    if acked and result.cpu_s:
        ours = sum(v for k, v in result.cpu_s.items() if k != "machine_busy")
        split = ", ".join(
            f"{k} {v * 1000 / len(acked):.0f}"
            for k, v in result.cpu_s.items()
            if k != "machine_busy"
        )
        figures[f"{prefix}_cpu_ms_per_msg"] = Figure.single(
            ours * 1000 / len(acked), "ms", f"CPU per message: {split}"
        )
        figures[f"{prefix}_machine_busy"] = Figure.single(
            result.cpu_s["machine_busy"] / duration, "cores", "all processes, other users too"
        )
    return figures


async def double_run(ctx: Context) -> dict[str, Figure]:
    o = ctx.options
    stack = bench_stack(
        ctx.dir / "double", agent_command=[sys.executable, "-m", "bench.agent_double"]
    )
    ctx.log(f"load: dev stack with the agent double for {o.load_users} users")
    await asyncio.to_thread(stack.start)
    try:
        users = [await asyncio.to_thread(stack.create_user) for _ in range(o.load_users)]
        for user in users:
            await asyncio.to_thread(user.token)
        result = await run_load(stack, users, o.load_seconds, o.load_think_s, ctx.log)
        counts = await asyncio.to_thread(audit, result)
    finally:
        await asyncio.to_thread(stack.stop)
    ctx.notes.setdefault("load", {})["double"] = {"users": o.load_users, **counts}
    return figures_of(result, counts, "load", o.load_window_s)


async def real_run(ctx: Context) -> dict[str, Figure]:
    o = ctx.options
    stack = await ctx.real_stack()
    ctx.script_model(stack)
    users = [
        await asyncio.to_thread(stack.create_user, idleTimeoutMinutes=120)
        for _ in range(o.load_real_users)
    ]
    ctx.log(f"load: warming {len(users)} real agents (first turns are not measured)")

    async def warm(user: Person) -> None:
        async with user.ws() as ws:
            message = new_id()
            await ws.send({"action": "send", "id": message, "text": "hello"})
            await ws.reply_end(message, timeout=900)

    await asyncio.gather(*(warm(u) for u in users))
    result = await run_load(stack, users, o.load_seconds, o.load_think_s, ctx.log)
    counts = await asyncio.to_thread(audit, result)
    for user in users:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(user.stop_agent)
    ctx.notes.setdefault("load", {})["real"] = {"users": o.load_real_users, **counts}
    return figures_of(result, counts, "load_real", o.load_window_s)


async def run(ctx: Context) -> dict[str, Figure]:
    figures = await double_run(ctx)
    if ctx.options.load_real_users > 0:
        figures.update(await real_run(ctx))
    return figures
