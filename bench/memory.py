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

from .context import Context
from .harness import new_id
from .stats import Figure

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


async def run(ctx: Context) -> dict[str, Figure]:
    o = ctx.options
    user = await ctx.relay_user()
    stack = await ctx.real_stack()
    ctx.script_model(stack)
    agent = await user.agent_process()
    await agent.wait_running()
    bridge: list[float] = []
    whole: list[float] = []
    processes = 0
    ctx.log(f"memory: sampling {o.memory_replies} replies")
    async with user.ws() as ws:
        for n in range(o.memory_replies):
            sampler = Sampler(agent.pid)
            stop = asyncio.Event()
            task = asyncio.create_task(sampler.run(stop))
            message = new_id()
            await ws.send({"action": "send", "id": message, "text": f"bench memory {n}"})
            await ws.reply(message)
            stop.set()
            await task
            bridge.append(sampler.peak.bridge)
            whole.append(sampler.peak.agent)
            processes = max(processes, sampler.peak.processes)
            await asyncio.sleep(o.think_s)
    ctx.notes["memory"] = {"agent_processes": processes}
    return {
        "bridge_rss_mb": Figure.of(bridge, "MB", "supervisor + bridge (Python), peak per reply"),
        "agent_rss_mb": Figure.of(whole, "MB", f"whole task ({processes} processes), peak"),
    }
