"""coldstart: from "send" to an idle agent until the first streamed text, phase by phase,
beside a bare `openclaw gateway` started on the same state on the same machine.

Each measured run: a message to a user whose agent is Idle (it answered before and backed its
state up), then StopTask and wait for Idle; then a bare gateway started from a copy of the
state that agent restored (the backup set: caches and secrets excluded), timed to /readyz
and to its first streamed delta. Cold and bare runs alternate.

The phases add up to the total. Clocks: the client's send and first chunk (monotonic and wall
time read together), the task process's creation time (/proc), the supervisor's start-up marks
(GET /status, seconds since it started) anchored by the wall time of its "agent running" log
line, and the bridge's turn record (monotonic).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil

from serverless_openclaw.agent.openclaw.client import GatewayClient, RunDelta, RunEnd
from serverless_openclaw.agent.openclaw.config import (
    ModelChoice,
    patch_config,
    read_config,
    write_config,
)
from serverless_openclaw.agent.openclaw.device import DeviceIdentity
from serverless_openclaw.agent.openclaw.gateway_process import GatewayProcess, gateway_environment
from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.core.snapshot import is_excluded
from serverless_openclaw.local.serve import free_port
from serverless_openclaw.runtime.installer import locate
from serverless_openclaw.settings import environ_snapshot

from .context import Context
from .harness import AgentProcess, BenchUser, new_id
from .stats import Figure, ratio

PHASES = (
    ("launch", "send -> task process exists (ws_message, wake, RunTask)"),
    ("python_init", "process -> supervisor starts (interpreter, imports)"),
    ("restore", "restore the state dir from S3"),
    ("config", "patch openclaw.json + `openclaw config validate`"),
    ("gateway_ready", "start `openclaw gateway` until /readyz"),
    ("connect", "bridge connects to the gateway, marks Running"),
    ("pickup", "Running -> the bridge starts the queued turn"),
    ("first_turn", "turn start -> OpenClaw's first delta"),
    ("delivery", "first delta -> first chunk at the client"),
)


async def cold_turn(user: BenchUser, text: str) -> dict[str, float]:
    """One message to an idle agent; returns the phases and the total in ms."""
    async with user.ws() as ws:
        sent_wall = time.time()
        sent = await ws.send({"action": "send", "id": (message := new_id()), "text": text})
        offset = sent_wall - sent  # wall = monotonic + offset
        first = await ws.first_chunk(message, timeout=900)
        await ws.reply(message, timeout=300)
    agent = await user.agent_process()
    status = await agent.status()
    marks: dict[str, float] = status["timings"]
    turn = next(t for t in status["turns"] if t["job_id"] == message)
    running_wall = agent.running_logged_at()
    process_wall = agent.process_started_at()
    if running_wall is None or process_wall is None:
        raise RuntimeError(f"agent {agent.work_dir} left no start-up anchor")
    supervisor_wall = running_wall - marks["running"]
    running_mono = running_wall - offset
    ms = {
        "launch": process_wall - sent_wall,
        "python_init": supervisor_wall - process_wall,
        "restore": marks["restored"],
        "config": marks["configured"] - marks["restored"],
        "gateway_ready": marks["gateway_ready"] - marks["configured"],
        "connect": marks["running"] - marks["gateway_ready"],
        "pickup": turn["started"] - running_mono,
        "first_turn": turn["first_text"] - turn["started"],
        "delivery": first.at - turn["first_text"],
        "total": first.at - sent,
    }
    ms["product"] = ms["total"] - ms["gateway_ready"] - ms["first_turn"]
    return {k: v * 1000 for k, v in ms.items()}


async def stop_and_wait(user: BenchUser) -> AgentProcess:
    """StopTask through the API; returns the stopped task once the row is Idle
    and the task's process has exited. Both: the watchdog may set the row Idle while the task
    is still writing its final backup (it treats desiredStatus STOPPED as gone), and a cold
    start measured beside a dying agent would share the CPU with it."""
    agent = await user.agent_process()
    await asyncio.to_thread(user.stop_agent)
    await user.wait_state("idle", timeout=300)
    deadline = time.monotonic() + 180
    while psutil.pid_exists(agent.pid) and time.monotonic() < deadline:
        with contextlib.suppress(psutil.Error):
            if psutil.Process(agent.pid).status() == psutil.STATUS_ZOMBIE:
                break
        await asyncio.sleep(0.2)
    return agent


def copy_backup_set(source: Path, target: Path) -> None:
    """The files a restore would bring back (core/snapshot.py's exclusions applied)."""

    def ignore(folder: str, names: list[str]) -> set[str]:
        rel = Path(folder).relative_to(source)
        skipped = set()
        for name in names:
            path = name if rel == Path() else f"{rel.as_posix()}/{name}"
            if is_excluded(path) or is_excluded(path + "/x"):
                skipped.add(name)
        return skipped

    shutil.copytree(source, target, ignore=ignore, symlinks=False)


async def bare_gateway(state_source: Path, root: Path, model_url: str) -> dict[str, float]:
    """`openclaw gateway` alone on a copy of `state_source`: ms to ready and to first delta."""
    runtime = locate()
    if runtime is None:
        raise RuntimeError("OpenClaw is not installed (serverless-openclaw openclaw install)")
    state, home, logs = root / "state", root / "home", root / "logs"
    await asyncio.to_thread(copy_backup_set, state_source, state)
    home.mkdir(parents=True)
    port = free_port()
    token = new_id()
    config = patch_config(
        read_config(state / "openclaw.json"),
        port=port,
        model=ModelChoice("offline", base_url=f"{model_url}/v1"),
        log_file=logs / "openclaw.log",
    )
    write_config(state / "openclaw.json", config)
    env = gateway_environment(environ_snapshot(), state_dir=state, home=home, token=token)
    process = GatewayProcess(runtime, state, port, env, logs / "gateway.out")
    started = time.monotonic()
    await process.start()
    try:
        await process.wait_ready(timeout=600, interval=0.05)
        ready = time.monotonic()
        async with GatewayClient(
            process.url,
            token,
            identity=DeviceIdentity.load_or_create(state),
            backoff=Backoff(base=0.1, cap=1.0),
        ) as client:
            run = await client.chat_send("agent:main:main", "bench bare gateway")
            first: float | None = None
            async for event in run:
                if isinstance(event, RunDelta) and first is None:
                    first = time.monotonic()
                elif isinstance(event, RunEnd):
                    break
    finally:
        await process.stop()
    return {
        "ready": (ready - started) * 1000,
        "first_delta": ((first or time.monotonic()) - started) * 1000,
    }


async def run(ctx: Context) -> dict[str, Figure]:
    o = ctx.options
    stack = await ctx.real_stack()
    ctx.script_model(stack)
    user = await asyncio.to_thread(stack.create_user, wakeOnConnect=False, idleTimeoutMinutes=120)
    ctx.log("coldstart: first start of a new user's agent (reported, not in the figures)")
    first_ever = await cold_turn(user, "bench hello")
    await stop_and_wait(user)

    phases: dict[str, list[float]] = defaultdict(list)
    bare: dict[str, list[float]] = defaultdict(list)
    for n in range(o.coldstarts):
        ctx.log(f"coldstart: cold start {n + 1}/{o.coldstarts}")
        for name, value in (await cold_turn(user, f"bench cold start {n}")).items():
            phases[name].append(value)
        stopped = await stop_and_wait(user)
        ctx.log(f"coldstart: bare gateway {n + 1}/{o.coldstarts}")
        for name, value in (
            await bare_gateway(
                stopped.openclaw_state_dir, ctx.dir / f"bare-{n}", stack.offline_model_url
            )
        ).items():
            bare[name].append(value)

    total = Figure.of(phases["total"], note="send to an idle agent -> first streamed text")
    bare_ready = Figure.of(bare["ready"], note="bare `openclaw gateway` start -> /readyz")
    bare_first = Figure.of(
        bare["first_delta"], note="bare gateway start -> its first reply's first delta"
    )
    figures: dict[str, Figure] = {
        "coldstart_total_ms": total,
        "bare_gateway_ready_ms": bare_ready,
        "coldstart_overhead_ratio": ratio(total, bare_ready, "cold start / bare gateway ready"),
        "bare_gateway_first_delta_ms": bare_first,
        "coldstart_vs_bare_first_delta_ratio": ratio(
            total, bare_first, "cold start / bare gateway start to first delta"
        ),
    }
    for name, why in PHASES:
        figures[f"coldstart_{name}_ms"] = Figure.of(phases[name], note=why)
    figures["coldstart_product_ms"] = Figure.of(
        phases["product"], note="ours: everything but OpenClaw's start and its first turn"
    )
    notes: dict[str, Any] = {"first_ever_ms": {k: round(v) for k, v in first_ever.items()}}
    ctx.notes["coldstart"] = notes
    return figures
