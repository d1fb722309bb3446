"""memory: peak RSS during a reply — of the bridge/supervisor Python process alone
(`bridge_rss_mb`) and of the whole agent task, OpenClaw's Node processes included
(`agent_rss_mb`). One figure per reply: the peak of samples taken every 20 ms while it
streams; median and p95 over the replies.

RSS of the task is the sum over its process tree, as ECS's memory limit counts it (pages
shared between the Node processes count once per process, so it is an upper bound).
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import psutil

from harness import WsClient, new_id

from .context import Context
from .stats import Figure, median

MB = 1024 * 1024


@dataclass
class Peak:
    bridge: float = 0.0
    agent: float = 0.0
    processes: int = 0


@dataclass
class Sampler:
    pid: int
    interval_s: float = 0.02
    peak: Peak = field(default_factory=Peak)

    def sample(self) -> None:
        root = psutil.Process(self.pid)
        bridge = root.memory_info().rss
        total = bridge
        children = root.children(recursive=True)
        for child in children:
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        self.peak.bridge = max(self.peak.bridge, bridge / MB)
        self.peak.agent = max(self.peak.agent, total / MB)
        self.peak.processes = max(self.peak.processes, 1 + len(children))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(psutil.Error):
                await asyncio.to_thread(self.sample)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval_s)


async def reply_peak(ws: WsClient, pid: int, text: str) -> Peak:
    sampler = Sampler(pid)
    stop = asyncio.Event()
    task = asyncio.create_task(sampler.run(stop))
    message = new_id()
    try:
        await ws.send({"action": "send", "id": message, "text": text})
        await ws.reply_end(message)
    finally:
        stop.set()
        await task
    return sampler.peak


async def run(ctx: Context) -> dict[str, Figure]:
    """A user of its own: the relay suite's direct client would add its runs' events to the
    bridge's client (as runs it did not start), which production never sees."""
    o = ctx.options
    stack = await ctx.real_stack()
    ctx.script_model(stack)
    user = await asyncio.to_thread(stack.create_user, wakeOnConnect=False, idleTimeoutMinutes=120)
    bridge: list[float] = []
    whole: list[float] = []
    processes = 0
    async with user.ws() as ws:
        ctx.log("memory: first message to a new user's agent (cold start)")
        first = new_id()
        await ws.send({"action": "send", "id": first, "text": "hello"})
        await ws.reply_end(first, timeout=900)
        agent = await user.agent_process()
        ctx.log(f"memory: sampling {o.memory_replies} replies")
        for n in range(o.memory_replies):
            peak = await reply_peak(ws, agent.pid, f"bench memory {n}")
            bridge.append(peak.bridge)
            whole.append(peak.agent)
            processes = max(processes, peak.processes)
            await asyncio.sleep(o.think_s)
        ctx.log(f"memory: {o.memory_growth_turns} more turns, then sampling again")
        for n in range(o.memory_growth_turns):
            message = new_id()
            await ws.send({"action": "send", "id": message, "text": f"bench memory more {n}"})
            await ws.reply_end(message)
        later = [
            (await reply_peak(ws, agent.pid, f"bench memory later {n}")).bridge for n in range(3)
        ]
    await asyncio.to_thread(user.stop_agent)
    ctx.notes["memory"] = {"agent_processes": processes}
    return {
        "bridge_rss_mb": Figure.of(bridge, "MB", "supervisor + bridge (Python), peak per reply"),
        "agent_rss_mb": Figure.of(whole, "MB", f"whole task ({processes} processes), peak"),
        "bridge_rss_growth_mb": Figure.single(
            median(later) - median(bridge),
            "MB",
            f"bridge peak after {o.memory_growth_turns} more turns, minus the first figure",
        ),
    }
