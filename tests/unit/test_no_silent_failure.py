"""What the person gets when OpenClaw will not take their message: an answer at once when it
refuses the message itself, a bounded retry with growing pauses when it cannot be reached —
and then an answer too. Never silence, never an endless loop."""

from __future__ import annotations

import asyncio
import random
from dataclasses import replace

import pytest

from serverless_openclaw.agent import failures
from serverless_openclaw.core.errors import (
    GatewayAuthError,
    GatewayDisconnected,
    GatewayError,
    GatewayProtocolError,
)
from serverless_openclaw.ports.inbox import MAX_RECEIVES

from .conftest import BridgeRig, messages, stream_ends, until


async def test_a_message_openclaw_refuses_is_answered_at_once_and_never_sent_again(
    rig: BridgeRig,
) -> None:
    rig.start()
    job = rig.send("paste with a \x00 in it")
    reply = await rig.answered(job)
    await until(lambda: rig.depth() == 0, what="the job acknowledged")

    assert reply.error is not None
    assert (reply.error.code, reply.error.retryable) == ("rejected", False)
    assert "null bytes" in reply.error.message
    assert reply.inReplyTo == job.jobId
    [end] = stream_ends(rig.ports, job.jobId)
    assert end["error"]["code"] == "rejected"
    assert rig.gateway.requests.count("chat.send") == 1, "refused once, not retried"
    assert rig.gateway.turns(job.text) == []
    assert rig.ports.inbox().dead_letters(max_jobs=10) == []
    # The next message is answered as usual.
    after = rig.send("and now without it")
    assert (await rig.answered(after)).error is None


async def test_an_unreachable_gateway_is_retried_with_growing_pauses_then_answered(
    rig: BridgeRig,
) -> None:
    rig.options = replace(rig.options, retry_base_s=10.0, retry_cap_s=60.0)
    rig.gateway.request_timeout = 0.02
    rig.gateway.crash()  # and nobody brings it back
    bridge = rig.start()
    job = rig.send("are you there?")

    for delivery in range(1, MAX_RECEIVES):
        await until(
            lambda n=delivery: len(bridge.turns) == n and bridge.turns[-1].ended is not None,
            what=f"delivery {delivery} handed back",
        )
        assert bridge.turns[-1].outcome == "released"
        longest = min(60.0, 10.0 * 2 ** (delivery - 1))  # the pause is in [longest / 2, longest]
        # Not redelivered while its pause lasts: time short of its shortest end passes, and
        # the bridge's receive loop gets a few real polls to (not) find it ...
        await rig.clock.advance(longest / 2 - 1)
        await asyncio.sleep(0.2)
        assert len(bridge.turns) == delivery
        # ... and delivered again once it is over.
        await rig.clock.advance(longest / 2 + 1)

    reply = await rig.answered(job)
    await until(lambda: rig.depth() == 0, what="the job acknowledged")
    assert len(bridge.turns) == MAX_RECEIVES
    assert reply.error is not None
    assert (reply.error.code, reply.error.retryable) == ("unavailable", True)
    [end] = stream_ends(rig.ports, job.jobId)
    assert end["error"]["code"] == "unavailable"
    assert [m.role for m in messages(rig.ports)] == ["user", "assistant"]
    assert rig.ports.inbox().dead_letters(max_jobs=10) == []


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (
            GatewayError("chat.send: message must not contain null bytes", code="INVALID_REQUEST"),
            True,
        ),
        (GatewayError("chat.send: nope", code="FORBIDDEN"), True),
        (GatewayError("chat.send: starting", code="UNAVAILABLE", retryable=True), False),
        (GatewayError("chat.send: busy", code="INVALID_REQUEST", retryable=True), False),
        (GatewayError("chat.send: no answer within 5 s", code="TIMEOUT"), False),
        (GatewayError("the run ended without a final event"), False),
        (GatewayDisconnected("connection closed"), False),
        (GatewayProtocolError("bad frame"), False),
        (GatewayAuthError("token mismatch", code="AUTH_TOKEN_MISMATCH"), False),
    ],
)
def test_only_errors_about_the_message_itself_are_permanent(
    error: GatewayError, permanent: bool
) -> None:
    refused = failures.refusal(error)
    assert (refused is not None) is permanent
    if refused is not None:
        assert not str(refused).startswith("chat.send:")
        text, reply = failures.rejected(refused)
        assert str(refused) in reply.message and text.endswith(reply.message)


def test_retry_pauses_grow_are_capped_and_jittered() -> None:
    rng = random.Random(7)
    pauses = [failures.retry_delay_s(n, base_s=2, cap_s=30, rng=rng) for n in range(1, 8)]
    for n, pause in enumerate(pauses, start=1):
        ceiling = min(30, 2 * 2 ** (n - 1))
        assert ceiling / 2 - 1 <= pause <= ceiling
    assert failures.retry_delay_s(3, base_s=0, cap_s=30) == 0
