"""AGENT DOUBLE — not OpenClaw. The load suite's stand-in task, for when fifty real OpenClaw
gateways (~1.4 GB each) would not fit in memory.

Everything between the inbox and the browser is the product's own code: the real `Bridge`
long-polls the user's SQS inbox, stores both messages in DynamoDB, heartbeats and deletes the
job; the real `WebReply` coalesces and posts the stream through @connections; the real
`AgentReporter` marks the task Running and Idle as its launch. Only the OpenClaw gateway is
replaced, by `FakeGateway`, which streams a canned, labelled reply in a few deltas.

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
import uuid
from typing import Any, cast

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.connections_api import ApiGatewayConnections
from serverless_openclaw.adapters.aws.inbox import InboxConsumer
from serverless_openclaw.adapters.aws.stores.connections import ConnectionStore
from serverless_openclaw.adapters.aws.stores.conversations import ConversationStore
from serverless_openclaw.adapters.aws.stores.task_state import TaskStateStore
from serverless_openclaw.agent.bridge import Bridge, BridgeOptions
from serverless_openclaw.agent.delivery import FanOut, ReplySink, WebReply
from serverless_openclaw.agent.openclaw.activity import SessionActivity
from serverless_openclaw.agent.openclaw.client import ChatRun, GatewayClient
from serverless_openclaw.agent.openclaw.protocol import ChatEvent
from serverless_openclaw.agent.reporter import AgentReporter
from serverless_openclaw.app.broadcast import Broadcaster
from serverless_openclaw.contracts.jobs import ChatJob, ControlJob
from serverless_openclaw.settings import AgentSettings

LABEL = "[agent double]"
log = logging.getLogger("agent_double")


class FakeGateway:
    """What the bridge uses of GatewayClient, answering without a model: the reply is
    streamed in `deltas` pieces, `delay_s` apart, then a final event."""

    def __init__(self, *, deltas: int = 5, delay_s: float = 0.02) -> None:
        self.deltas = deltas
        self.delay_s = delay_s
        self.connected = True
        self.activity = SessionActivity()
        """Nothing runs by itself here: every session is always quiet."""
        self._streams: set[asyncio.Task[None]] = set()

    async def chat_send(
        self, session_key: str, message: str, *, idempotency_key: str | None = None
    ) -> ChatRun:
        run_id = idempotency_key or uuid.uuid4().hex
        run = ChatRun(run_id, session_key, "started")
        task = asyncio.create_task(self._stream(run, f"{LABEL} You said: {message}"))
        self._streams.add(task)
        task.add_done_callback(self._streams.discard)
        return run

    async def _stream(self, run: ChatRun, reply: str) -> None:
        size = max(1, -(-len(reply) // self.deltas))
        for seq, start in enumerate(range(0, len(reply), size), start=1):
            await asyncio.sleep(self.delay_s)
            run._apply(
                ChatEvent(
                    runId=run.run_id, state="delta", seq=seq, deltaText=reply[start : start + size]
                )
            )
        run._apply(
            ChatEvent(
                runId=run.run_id,
                state="final",
                seq=self.deltas + 1,
                message={"role": "assistant", "content": [{"type": "text", "text": reply}]},
            )
        )

    async def chat_abort(self, session_key: str, run_id: str | None = None) -> Any:
        return {"ok": True}


async def run(settings: AgentSettings) -> int:
    if not settings.task_id:
        log.error("SOC_TASK_ID is not set; this process was not launched by the control plane")
        return 2
    clients = AwsClients(settings.names.region)
    prefix = settings.names.prefix
    dynamodb = clients.dynamodb()
    connections = ConnectionStore(dynamodb, prefix)
    broadcaster = None
    if settings.names.connections_url:
        broadcaster = Broadcaster(
            connections, ApiGatewayConnections(clients.connections(settings.names.connections_url))
        )
    reporter = AgentReporter(
        TaskStateStore(dynamodb, prefix),
        broadcaster,
        user_id=settings.user_id,
        launch_id=settings.task_id,
    )
    settings.work_dir.mkdir(parents=True, exist_ok=True)
    (settings.work_dir / "agent.json").write_text(
        json.dumps({"pid": os.getpid(), "double": True, "launchId": settings.task_id}) + "\n"
    )

    def sinks(job: ChatJob) -> ReplySink:
        if broadcaster is None:
            return FanOut([])
        return WebReply(
            broadcaster,
            connections,
            user_id=job.userId,
            message_id=job.jobId,
            conversation_id=job.conversationId,
        )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    async def on_control(job: ControlJob) -> None:
        if job.command == "stop":
            stop.set()

    bridge = Bridge(
        user_id=settings.user_id,
        consumer=InboxConsumer(clients.sqs(), settings.inbox_queue_url),
        gateway=cast(GatewayClient, FakeGateway()),
        conversations=ConversationStore(dynamodb, prefix),
        reporter=reporter,
        sinks=sinks,
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
