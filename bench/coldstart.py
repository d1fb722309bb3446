"""coldstart: from "send" to an idle agent until the first streamed text, as a fresh Fargate
task sees it, phase by phase, beside a bare `openclaw gateway` started the naive way.

Fargate honesty. A new task has nothing but its image: an empty `/tmp` (where OpenClaw keeps
Node's compile cache by default), an empty HOME, and the state dir restored from S3. So every
measured start here gets an emptied `$TMPDIR` (the dev stack hands each task the bench's
`task-tmp/`, wiped before each start), a fresh HOME (each task's own work dir) and no local
state: the user's OpenClaw state dir is deleted after each stop, so the restore really
brings it back from the blob store. What the image ships (the prefilled compile cache in the
runtime folder, runtime/installer.py) is used, as the image would use it; fill it first with
`python -m serverless_openclaw.agent.prewarm compile-cache` (the suite does when it is
missing). The OS page cache cannot be emptied on a shared machine: files Node reads are
likely warm here and were just pulled there.

Each measured run: a message to a user whose agent is Idle, then StopTask and wait for Idle;
then a *bare* gateway: `openclaw gateway` with OpenClaw's defaults (no lean config, no
prefilled compile cache, an empty `$TMPDIR`, no pre-warm) on a copy of the state that agent
backed up, timed to /readyz and to its first streamed delta. Cold and bare runs alternate.

`open_then_send_first_text_ms`: the page opens (wake on open), the person sends 15 s later;
time from that send to the first text (the pre-warm's figure).

The phases add up to the total. Clocks: the client's send and first chunk (monotonic and wall
time read together), the task process's creation time (/proc), the supervisor's start-up marks
(GET /status, seconds since it started) anchored by the wall time of its "agent running" log
line, and the bridge's turn record (monotonic). CPU-seconds of the gateway's process tree at
the first text are the steadier check on a shared machine.

`--task-cpus 0` pins the agent task and the bare gateway to the listed cores (`taskset`): how
docs/performance.md compares task sizes (1 core vs 2) without Fargate. `--task-cpu-quota 0.5`
gives them a CFS quota instead (a cgroup; root only), which can express half a CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil

from harness import AgentProcess, DevStackProcess, Person, new_id
from serverless_openclaw.agent.openclaw.client import GatewayClient, RunDelta, RunEnd
from serverless_openclaw.agent.openclaw.config import (
    ModelChoice,
    patch_config,
    read_config,
    write_config,
)
from serverless_openclaw.agent.openclaw.device import DeviceIdentity
from serverless_openclaw.agent.openclaw.gateway_process import GatewayProcess, gateway_environment
from serverless_openclaw.agent.prewarm import fill_compile_cache
from serverless_openclaw.core.backoff import Backoff
from serverless_openclaw.core.snapshot import is_excluded
from serverless_openclaw.loopback import free_port
from serverless_openclaw.runtime.installer import OpenClawRuntime, locate
from serverless_openclaw.settings import environ_snapshot

from .context import Context, bench_stack
from .stats import Figure, ratio

PHASES = (
    ("launch", "send -> task process exists (ws_message, wake, RunTask)"),
    ("python_init", "process -> supervisor starts (interpreter, imports)"),
    ("restore", "restore the state dir from S3"),
    ("config", "patch openclaw.json (no validate: the gateway checks it)"),
    ("gateway_ready", "start `openclaw gateway` until /readyz"),
    ("connect", "bridge connects to the gateway, marks Running"),
    ("pickup", "Running -> the bridge starts the queued turn"),
    ("first_turn", "turn start -> OpenClaw's first delta"),
    ("delivery", "first delta -> first chunk at the client"),
)


# --- a fresh task's surroundings -------------------------------------------------------------
def empty_folder(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def tree_cpu_s(pid: int) -> float:
    """CPU-seconds of a process and its living descendants (exited helpers are counted
    through `children_*` when their parent reaped them)."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            t = process.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def pin(pid: int, cpus: str) -> None:
    """Pin every thread of `pid` (its children inherit it) to `cpus` (taskset syntax)."""
    if cpus:
        psutil.Process(pid).cpu_affinity([int(c) for c in cpus.split(",")])
        for thread in psutil.Process(pid).threads():
            with contextlib.suppress(psutil.Error, OSError):
                psutil.Process(thread.id).cpu_affinity([int(c) for c in cpus.split(",")])


CGROUP_CPU = Path("/sys/fs/cgroup/cpu")


class CpuQuota:
    """A cgroup-v1 CPU controller group with a CFS quota of `vcpus` CPUs: how Linux (and
    Fargate's micro-VMs for fractional sizes) hands out a fraction of a CPU. Needs root and a
    writable /sys/fs/cgroup/cpu; processes put in it keep their children in it."""

    period_us = 100_000

    def __init__(self, vcpus: float, name: str) -> None:
        self.vcpus = vcpus
        self.path = CGROUP_CPU / name

    def __enter__(self) -> CpuQuota:
        try:
            self.path.mkdir(exist_ok=True)
            (self.path / "cpu.cfs_period_us").write_text(str(self.period_us))
            (self.path / "cpu.cfs_quota_us").write_text(str(int(self.vcpus * self.period_us)))
        except OSError as exc:
            raise RuntimeError(f"--task-cpu-quota needs a writable {CGROUP_CPU}: {exc}") from exc
        return self

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def wrap(self, command: list[str]) -> list[str]:
        """`command`, started inside the group."""
        procs = self.path / "cgroup.procs"
        return ["sh", "-c", f'echo $$ > {procs} && exec "$@"', "sh", *command]

    def __exit__(self, *_: object) -> None:
        with contextlib.suppress(OSError):
            for pid in (self.path / "cgroup.procs").read_text().split():
                with contextlib.suppress(OSError):
                    (CGROUP_CPU / "cgroup.procs").write_text(pid)
            self.path.rmdir()


async def product_runtime(ctx: Context) -> OpenClawRuntime:
    """The runtime as the image ships it: with a prefilled compile cache (filled now when
    missing: one warm-up start, what the Dockerfile does at build time)."""
    runtime = locate()
    if runtime is None:
        raise RuntimeError("OpenClaw is not installed (serverless-openclaw openclaw install)")
    if runtime.compile_cache is None:
        ctx.log("coldstart: filling the runtime's compile cache (the image does it at build)")
        await fill_compile_cache(runtime, progress=lambda line: ctx.log(f"  {line}"))
        runtime = locate()
        assert runtime is not None
    return runtime


async def cold_stack(ctx: Context, quota: CpuQuota | None) -> DevStackProcess:
    """A dev stack of this suite's own, whose agent tasks get `task_tmp` as $TMPDIR (emptied
    before each start; another suite's agent may still run on the shared stack), pinned to
    `task_cpus` or under a CPU quota when asked."""
    cpus = ctx.options.task_cpus
    command = [sys.executable, "-m", "serverless_openclaw.agent"]
    if cpus:
        command = ["taskset", "-c", cpus, *command]
    if quota is not None:
        command = quota.wrap(command)
    stack = bench_stack(
        ctx.dir / "coldstart",
        agent_command=command,
        agent_env={"TMPDIR": str(ctx.task_tmp)},
    )
    ctx.log("coldstart: starting a dev stack of its own")
    await asyncio.to_thread(stack.start)
    ctx.own_stack(stack)
    ctx.script_model(stack)
    return stack


# --- one cold start --------------------------------------------------------------------------
async def cold_turn(user: Person, text: str) -> dict[str, float]:
    """One message to an idle agent; returns the phases and the total in ms."""
    async with user.ws() as ws:
        sent_wall = time.time()
        sent = await ws.send({"action": "send", "id": (message := new_id()), "text": text})
        offset = sent_wall - sent  # wall = monotonic + offset
        first = await ws.first_chunk(message, timeout=900)
        agent = await user.agent_process()
        status = await agent.status()
        task_cpu = tree_cpu_s(agent.pid)  # the supervisor and OpenClaw below it
        cpu = tree_cpu_s(int(status["gatewayPid"])) if status.get("gatewayPid") else 0.0
        await ws.reply_end(message, timeout=300)
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
    result = {k: v * 1000 for k, v in ms.items()}
    result["gateway_cpu_s"] = cpu
    result["task_cpu_s"] = task_cpu
    result["prewarmed"] = 1.0 if (status.get("prewarm") or {}).get("warmed") else 0.0
    return result


async def prewarm_done(user: Person, timeout: float = 900) -> dict[str, Any]:
    """Waits until the woken agent's pre-warm has a result; returns it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            agent = await user.agent_process(timeout=5)
            result = (await agent.status()).get("prewarm")
            if result:
                return dict(result)
        await asyncio.sleep(0.25)
    raise TimeoutError("no pre-warm result")


async def open_then_send(user: Person, text: str, delay_s: float | None) -> dict[str, Any]:
    """The page opens (wake on open); the person sends `delay_s` later (None: once the
    agent's pre-warm is over). Returns the ms from that send to the first text, and what the
    agent did meanwhile."""
    async with user.ws() as ws:
        opened, opened_wall = time.monotonic(), time.time()
        if delay_s is None:
            await prewarm_done(user)
        else:
            await asyncio.sleep(delay_s)  # the person reading and typing: the scenario itself
        message = new_id()
        sent = await ws.send({"action": "send", "id": message, "text": text})
        first = await ws.first_chunk(message, timeout=900)
        await ws.reply_end(message, timeout=300)
    agent = await user.agent_process()
    status = await agent.status()
    running_wall = agent.running_logged_at()
    prewarm = status.get("prewarm") or {}
    return {
        "first_text_ms": (first.at - sent) * 1000,
        "open_to_first_text_ms": (first.at - opened) * 1000,
        "running_after_open_ms": None
        if running_wall is None
        else (running_wall - opened_wall) * 1000,
        "prewarm": prewarm,
    }


async def stop_and_wait(user: Person) -> AgentProcess:
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


def forget_local_state(agent: AgentProcess, task_tmp: Path) -> None:
    """What a new Fargate task does not have: the user's state dir on local disk (the next
    start restores it from the blob store) and anything left in $TMPDIR."""
    shutil.rmtree(agent.openclaw_state_dir, ignore_errors=True)
    empty_folder(task_tmp)


# --- the bare gateway ------------------------------------------------------------------------
async def bare_gateway(
    runtime: OpenClawRuntime,
    state_source: Path,
    root: Path,
    model_url: str,
    cpus: str,
    quota: CpuQuota | None,
) -> dict[str, float]:
    """`openclaw gateway` as anyone would start it on a copy of `state_source`: OpenClaw's
    defaults, no prefilled compile cache, an empty $TMPDIR and HOME. ms to ready and to the
    first delta, and the gateway's CPU-seconds at that delta."""
    naive = replace(runtime, compile_cache=None)
    state, home, tmp, logs = root / "state", root / "home", root / "tmp", root / "logs"
    await asyncio.to_thread(copy_backup_set, state_source, state)
    home.mkdir(parents=True)
    tmp.mkdir(parents=True)
    port = free_port()
    token = new_id()
    config = patch_config(
        read_config(state / "openclaw.json"),
        port=port,
        model=ModelChoice("offline", base_url=f"{model_url}/v1"),
        log_file=logs / "openclaw.log",
        lean=False,
    )
    write_config(state / "openclaw.json", config)
    base = environ_snapshot()
    base.pop("NODE_COMPILE_CACHE", None)
    base["TMPDIR"] = str(tmp)
    env = gateway_environment(base, state_dir=state, home=home, token=token)
    process = GatewayProcess(naive, state, port, env, logs / "gateway.out")
    started = time.monotonic()
    await process.start()
    assert process.pid is not None
    pin(process.pid, cpus)
    if quota is not None:
        quota.add(process.pid)
    cpu = 0.0
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
                    cpu = tree_cpu_s(process.pid)
                elif isinstance(event, RunEnd):
                    break
    finally:
        await process.stop()
    return {
        "ready": (ready - started) * 1000,
        "first_delta": ((first or time.monotonic()) - started) * 1000,
        "cpu_s": cpu,
    }


# --- the suite -------------------------------------------------------------------------------
async def run(ctx: Context) -> dict[str, Figure]:
    if ctx.options.task_cpu_quota:
        with CpuQuota(ctx.options.task_cpu_quota, f"soc-bench-{os.getpid()}") as quota:
            return await measure(ctx, quota)
    return await measure(ctx, None)


async def measure(ctx: Context, quota: CpuQuota | None) -> dict[str, Figure]:
    o = ctx.options
    runtime = await product_runtime(ctx)
    stack = await cold_stack(ctx, quota)
    ctx.script_model(stack)
    user = await asyncio.to_thread(stack.create_user, wakeOnConnect=False, idleTimeoutMinutes=120)
    ctx.log("coldstart: first start of a new user's agent (reported, not in the figures)")
    first_ever = await cold_turn(user, "bench hello")
    agent = await stop_and_wait(user)

    phases: dict[str, list[float]] = defaultdict(list)
    bare: dict[str, list[float]] = defaultdict(list)
    for n in range(o.coldstarts):
        forget_local_state(agent, ctx.task_tmp)
        ctx.log(f"coldstart: cold start {n + 1}/{o.coldstarts}")
        for name, value in (await cold_turn(user, f"bench cold start {n}")).items():
            phases[name].append(value)
        agent = await stop_and_wait(user)
        ctx.log(f"coldstart: bare gateway {n + 1}/{o.coldstarts}")
        for name, value in (
            await bare_gateway(
                runtime,
                agent.openclaw_state_dir,
                ctx.dir / f"bare-{n}",
                stack.offline_model().url,
                o.task_cpus,
                quota,
            )
        ).items():
            bare[name].append(value)

    opened: list[dict[str, Any]] = []
    warmed: list[dict[str, Any]] = []
    await asyncio.to_thread(user.settings, wakeOnConnect=True)
    for n in range(o.open_sends):
        forget_local_state(agent, ctx.task_tmp)
        ctx.log(f"coldstart: open, send {o.open_send_delay_s:g} s later {n + 1}/{o.open_sends}")
        opened.append(await open_then_send(user, f"bench open then send {n}", o.open_send_delay_s))
        agent = await stop_and_wait(user)
        forget_local_state(agent, ctx.task_tmp)
        ctx.log(f"coldstart: open, send once pre-warmed {n + 1}/{o.open_sends}")
        warmed.append(await open_then_send(user, f"bench open, warm, send {n}", None))
        agent = await stop_and_wait(user)
    await asyncio.to_thread(user.settings, wakeOnConnect=False)

    total = Figure.of(phases["total"], note="send to an idle agent -> first streamed text")
    bare_first = Figure.of(
        bare["first_delta"],
        note="bare `openclaw gateway` (defaults, cold caches) start -> first delta",
    )
    figures: dict[str, Figure] = {
        "coldstart_total_ms": total,
        "bare_cold_ready_ms": Figure.of(bare["ready"], note="bare gateway start -> /readyz"),
        "bare_cold_first_delta_ms": bare_first,
        "coldstart_vs_bare_ratio": ratio(
            total, bare_first, "cold start (send -> first text) / bare start -> first delta"
        ),
        "coldstart_gateway_cpu_s": Figure.of(
            phases["gateway_cpu_s"], unit="s", note="OpenClaw's CPU-s at the first text"
        ),
        "bare_cold_gateway_cpu_s": Figure.of(
            bare["cpu_s"], unit="s", note="the bare gateway's CPU-s at its first delta"
        ),
        "coldstart_task_cpu_s": Figure.of(
            phases["task_cpu_s"], unit="s", note="the task's CPU-s (supervisor + OpenClaw)"
        ),
    }
    if opened:
        figures.update(
            {
                "open_then_send_first_text_ms": Figure.of(
                    [r["first_text_ms"] for r in opened],
                    note=f"wake on open, send {o.open_send_delay_s:g} s later -> first text",
                ),
                "open_then_send_running_after_open_ms": Figure.of(
                    [r["running_after_open_ms"] or 0.0 for r in opened],
                    note="page opened -> the woken agent runs (the send waits for it when later)",
                ),
                "prewarmed_first_text_ms": Figure.of(
                    [r["first_text_ms"] for r in warmed],
                    note="woken on open, sent after the pre-warm turn -> first text",
                ),
                "prewarm_turn_ms": Figure.of(
                    [float(r["prewarm"].get("seconds") or 0.0) * 1000 for r in warmed],
                    note="the throwaway turn (stand-in model: no model call)",
                ),
            }
        )
    figures["coldstart_vs_bare_cpu_ratio"] = ratio(
        figures["coldstart_task_cpu_s"],
        figures["bare_cold_gateway_cpu_s"],
        "CPU-s to the first text: the task / the bare gateway (steadier on a busy machine)",
    )
    for name, why in PHASES:
        figures[f"coldstart_{name}_ms"] = Figure.of(phases[name], note=why)
    figures["coldstart_product_ms"] = Figure.of(
        phases["product"], note="ours: everything but OpenClaw's start and its first turn"
    )
    ctx.notes["coldstart"] = {
        "first_ever_ms": {k: round(v) for k, v in first_ever.items()},
        "task_cpus": o.task_cpus or "all",
        "task_cpu_quota": o.task_cpu_quota or None,
        "compile_cache": str(runtime.compile_cache),
        "open_then_send": [
            {k: (round(v) if isinstance(v, float) else v) for k, v in r.items()} for r in opened
        ],
        "open_prewarmed_send": [
            {k: (round(v) if isinstance(v, float) else v) for k, v in r.items()} for r in warmed
        ],
    }
    return figures
