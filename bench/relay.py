"""relay: what the product adds to a warm turn, measured beside the gateway it relays.

Relay turn: WebSocket client -> API Gateway emulator -> ws_message Lambda -> SQS inbox ->
bridge -> OpenClaw -> offline model, and back through @connections -> the client.
Direct turn: `chat.send` from the project's own GatewayClient straight to the same running
OpenClaw gateway of the same agent task (same process, same model, same machine moment).

The direct client reaches that gateway with the token the agent was given: the bench starts
the dev stack with SOC_GATEWAY_TOKEN in the agent's environment — the setting through which
the token arrives from SSM on AWS (otherwise the agent generates one that never leaves the
task). A second gateway of our own would have been a different process with its own caches
and warm-up; this way the two series differ only by the relay: same gateway, same session
(the main one, which the web chat uses), alternating turns. Turns alternate (relay first,
then direct first) so drift in the machine's load hits both series alike.

Warm turns are sent `think_s` after the previous reply ended, as a person reading it would.
A few turns are also sent the moment the previous reply ends and reported apart
(`relay_back_to_back_*`): the bridge posts stream_end before it deletes the job, and its
short poll that was already waiting then was opened while the user's FIFO group was locked —
moto keeps that poll blind to the group until it returns (≤ 1 s), where SQS would not.

From the bridge's turn records (GET /status; `time.monotonic()` is one clock for every process
on Linux) each relay turn is split into control plane (send -> the bridge starts the turn),
gateway (-> first delta from OpenClaw) and delivery (-> first chunk at the client).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from harness import AgentProcess, WsClient, new_id
from serverless_openclaw.agent.bridge import session_key
from serverless_openclaw.agent.openclaw.client import GatewayClient, RunDelta, RunEnd
from serverless_openclaw.agent.openclaw.device import DeviceIdentity
from serverless_openclaw.contracts.limits import MAIN_CONVERSATION_ID
from serverless_openclaw.core.backoff import Backoff

from .context import Context
from .stats import Figure, ratio

DIRECT_SESSION = session_key(MAIN_CONVERSATION_ID)
"""The session the relay turns go to as well: OpenClaw's main session costs more per turn
than a fresh side session (its history and injected context), so both series share it."""


@dataclass
class RelaySamples:
    relay_ttft: list[float] = field(default_factory=list)
    relay_end: list[float] = field(default_factory=list)
    direct_ttft: list[float] = field(default_factory=list)
    direct_end: list[float] = field(default_factory=list)
    posts: list[float] = field(default_factory=list)
    posts_per_s: list[float] = field(default_factory=list)
    control: list[float] = field(default_factory=list)
    gateway: list[float] = field(default_factory=list)
    delivery: list[float] = field(default_factory=list)


async def relay_turn(
    ws: WsClient, agent: AgentProcess, text: str, samples: RelaySamples | None
) -> None:
    message = new_id()
    after = len(ws.frames)
    sent = await ws.send({"action": "send", "id": message, "text": text})
    first = await ws.first_chunk(message, after=after)
    end = await ws.reply_end(message, after=after)
    if samples is None:
        return
    samples.relay_ttft.append((first.at - sent) * 1000)
    samples.relay_end.append((end.at - sent) * 1000)
    frames = ws.reply_frames(message)
    samples.posts.append(len(frames))
    chunks = sum(1 for f in frames if f.data.get("type") == "stream_chunk")
    streaming = end.at - first.at
    if streaming > 0.2:
        samples.posts_per_s.append(chunks / streaming)
    status = await agent.status()
    turn = next((t for t in status.get("turns", []) if t.get("job_id") == message), None)
    if turn and turn.get("first_text"):
        samples.control.append((turn["started"] - sent) * 1000)
        samples.gateway.append((turn["first_text"] - turn["started"]) * 1000)
        samples.delivery.append((first.at - turn["first_text"]) * 1000)


async def direct_turn(client: GatewayClient, text: str, samples: RelaySamples | None) -> None:
    sent = time.monotonic()
    run = await client.chat_send(DIRECT_SESSION, text)
    first: float | None = None
    async for event in run:
        if isinstance(event, RunDelta) and first is None and event.update.text:
            first = time.monotonic()
        elif isinstance(event, RunEnd):
            break
    ended = time.monotonic()
    if samples is not None and first is not None:
        samples.direct_ttft.append((first - sent) * 1000)
        samples.direct_end.append((ended - sent) * 1000)


async def run(ctx: Context) -> dict[str, Figure]:
    o = ctx.options
    user = await ctx.relay_user()
    stack = await ctx.real_stack()
    ctx.script_model(stack)
    agent = await user.agent_process()
    await agent.wait_running()
    assert stack.gateway_token, "the bench's stack gives every agent one gateway token"
    client = GatewayClient(
        f"ws://127.0.0.1:{agent.gateway_port}",
        stack.gateway_token,
        identity=DeviceIdentity.generate(),
        backoff=Backoff(base=0.2, cap=2.0),
    )
    samples = RelaySamples()
    await client.start(timeout=60)
    try:
        async with user.ws() as ws:
            ctx.log(f"relay: {o.warmup_turns} warm-up turns each way")
            for n in range(o.warmup_turns):
                await relay_turn(ws, agent, f"bench warm-up {n}", None)
                await asyncio.sleep(o.think_s)
                await direct_turn(client, f"bench warm-up {n}", None)
                await asyncio.sleep(o.think_s)
            ctx.log(f"relay: {o.relay_pairs} relay and {o.relay_pairs} direct turns")
            for n in range(o.relay_pairs):
                text = f"bench turn {n}"
                if n % 2 == 0:
                    await relay_turn(ws, agent, text, samples)
                    await asyncio.sleep(o.think_s)
                    await direct_turn(client, text, samples)
                else:
                    await direct_turn(client, text, samples)
                    await asyncio.sleep(o.think_s)
                    await relay_turn(ws, agent, text, samples)
                await asyncio.sleep(o.think_s)
            ctx.log(f"relay: {o.back_to_back} turns sent the moment the previous reply ended")
            back_to_back = RelaySamples()
            for n in range(o.back_to_back):
                await relay_turn(ws, agent, f"bench next {n}", back_to_back)
    finally:
        await client.close()
    relay_ttft = Figure.of(samples.relay_ttft)
    direct_ttft = Figure.of(samples.direct_ttft)
    relay_end = Figure.of(samples.relay_end)
    direct_end = Figure.of(samples.direct_end)
    figures = {
        "relay_ttft_ms": relay_ttft,
        "direct_ttft_ms": direct_ttft,
        "relay_overhead_ratio": ratio(relay_ttft, direct_ttft, "relay/direct time to first text"),
        "relay_overhead_ms": Figure.of(
            [r - d for r, d in zip(samples.relay_ttft, samples.direct_ttft, strict=False)],
            note="relay minus direct time to first text, turn by turn (adjacent pairs)",
        ),
        "relay_end_ms": relay_end,
        "direct_end_ms": direct_end,
        "relay_end_ratio": ratio(relay_end, direct_end, "relay/direct time to the full reply"),
        "posts_per_reply": Figure.of(samples.posts, "posts", "@connections posts per reply"),
        "posts_per_stream_s": Figure.of(
            samples.posts_per_s, "posts/s", "chunk posts per second of streaming"
        ),
    }
    if samples.control:
        figures["relay_control_ms"] = Figure.of(
            samples.control, note="send -> the bridge starts the turn"
        )
        figures["relay_gateway_ms"] = Figure.of(
            samples.gateway, note="turn start -> first delta from OpenClaw"
        )
        figures["relay_delivery_ms"] = Figure.of(
            samples.delivery, note="first delta -> first chunk at the client"
        )
    if back_to_back.relay_ttft:
        figures["relay_back_to_back_ttft_ms"] = Figure.of(
            back_to_back.relay_ttft, note="next message sent the moment stream_end arrives"
        )
        figures["relay_back_to_back_control_ms"] = Figure.of(
            back_to_back.control, note="... of which send -> the bridge starts the turn"
        )
    ctx.notes["relay"] = {
        "think_s": o.think_s,
        "reply": f"{o.reply_chars} chars, {o.chunk_chars}-char chunks, {o.chunk_delay_ms} ms apart",
    }
    return figures
