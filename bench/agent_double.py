"""AGENT DOUBLE — not OpenClaw. The load suite's stand-in task, for when fifty real OpenClaw
gateways (~1.4 GB each) would not fit in memory.

Everything between the inbox and the browser is the product's own code: the real `Bridge`
long-polls the user's inbox, stores both messages (fenced by the launch), heartbeats and
deletes the job; the real `WebReply` coalesces and posts the stream through @connections; the
real `AgentReporter` marks the task Running and Idle as its launch. Only the OpenClaw gateway
is replaced, by the package's `FakeGateway`, which streams a canned, labelled reply in a few
deltas; there is no OpenClaw state, so nothing to back up.

Run by the ECS emulator: `python -m bench.agent_double` with the task environment set.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sys

from serverless_openclaw.agent.bridge import Bridge, BridgeOptions
from serverless_openclaw.agent.delivery import ReplySinks
from serverless_openclaw.agent.openclaw.fake import FakeGateway, Reply
from serverless_openclaw.agent.reporter import AgentReporter
from serverless_openclaw.agent.wiring import wire_task
from serverless_openclaw.app.broadcast import Broadcaster
from serverless_openclaw.contracts.jobs import ControlJob
from serverless_openclaw.settings import AgentSettings

LABEL = "[agent double]"
log = logging.getLogger("agent_double")


async def run(settings: AgentSettings) -> int:
    if not settings.task_id:
        log.error("SOC_TASK_ID is not set; this process was not launched by the control plane")
        return 2
    ports = wire_task(settings)
    connections = ports.connections()
    api = ports.connections_api()
    broadcaster = Broadcaster(connections, api) if api is not None else None
    reporter = AgentReporter(
        ports.task_state(), broadcaster, user_id=settings.user_id, launch_id=settings.task_id
    )
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    (settings.work_dir / "agent.json").write_text(
        json.dumps({"pid": os.getpid(), "double": True, "launchId": settings.task_id}) + "\n"
    )
    sinks = ReplySinks(
        user_id=settings.user_id,
        connections=connections,
        broadcaster=broadcaster,
        telegram=None,
        telegram_links=ports.telegram(),
    )
    gateway = FakeGateway(
        answer=lambda message: f"{LABEL} You said: {message}",
        default=Reply(chunks=5, delay_s=0.02),
    )
    await gateway.boot()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def on_control(job: ControlJob) -> None:
        if job.command == "stop":
            stop.set()

    async def no_state_to_back_up() -> None:
        return None

    bridge = Bridge(
        user_id=settings.user_id,
        launch_id=settings.task_id,
        consumer=ports.inbox_consumer(settings.inbox_queue_url),
        gateway=gateway,
        conversations=ports.conversations(),
        reporter=reporter,
        sinks=sinks.for_job,
        backup=no_state_to_back_up,
        on_turn_done=lambda: None,
        on_control=on_control,
        on_fatal=lambda _: stop.set(),
        options=BridgeOptions(),
    )
    await reporter.phase("agent double")
    await reporter.running()
    receiving = asyncio.create_task(bridge.run(), name="bridge")
    waiter = asyncio.create_task(stop.wait(), name="stop")
    try:
        done, _ = await asyncio.wait({receiving, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if receiving in done:
            receiving.result()
    finally:
        bridge.stop_receiving()
        await reporter.stopping("shutting down")
        await bridge.drain(settings.drain_seconds)
        for task in (receiving, waiter):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await gateway.shutdown()
        await reporter.idle()
    return 0


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s agent_double %(message)s")
    code = asyncio.run(run(AgentSettings()))
    sys.stdout.flush()
    # A long poll may still block a worker thread; everything is stored by now.
    os._exit(code)


if __name__ == "__main__":
    main()
