"""The fake gateway behaves as the pinned OpenClaw was seen to (OPENCLAW.md, A12), so that
the bridge's unit tests mean something: a crash interrupts a turn, OpenClaw's own recovery
run answers it after the restart, and a message sent meanwhile is folded into that run."""

from __future__ import annotations

import pytest

from serverless_openclaw.agent.clock import ManualClock
from serverless_openclaw.agent.openclaw.fake import MAIN_SESSION, Crash, Reply
from serverless_openclaw.core.errors import GatewayDisconnected

from .conftest import fake_gateway, until


async def test_a_crash_mid_turn_is_recovered_by_openclaws_own_run_which_folds_a_resend(
    clock: ManualClock,
) -> None:
    gateway = fake_gateway(clock, default=Reply(chunks=4, delay_s=0.05))
    await gateway.boot()
    gateway.script("story", Crash(partial="Once upon"))
    run = await gateway.chat_send(MAIN_SESSION, "tell me a story", idempotency_key="job-1")
    with pytest.raises(GatewayDisconnected):
        await run.result()
    assert not gateway.connected
    [asked] = gateway.history()
    assert (asked.role, asked.text.endswith("tell me a story")) == ("user", True)

    await gateway.boot()  # the restart: OpenClaw resumes the interrupted turn by itself
    await until(lambda: gateway.activity.busy_runs(MAIN_SESSION), what="the recovery run")
    resend = await gateway.chat_send(MAIN_SESSION, "tell me a story", idempotency_key="job-1b")
    assert (await resend.result()).text == "", "folded into the busy run: an empty final"
    assert gateway.sent[-1].outcome == "folded"

    await until(lambda: not gateway.activity.busy_runs(MAIN_SESSION), what="the recovery end")
    answers = [m for m in gateway.history() if m.role == "assistant"]
    assert [m.text for m in answers] == [gateway.answer("tell me a story")]
    assert answers[0].run_id is not None
    assert answers[0].run_id.startswith("recovery-"), "a run nobody asked for"
    await gateway.shutdown()


async def test_a_key_it_remembers_gives_an_empty_run_and_a_busy_key_the_same_run(
    clock: ManualClock,
) -> None:
    gateway = fake_gateway(clock, default=Reply(chunks=3, delay_s=0.02))
    await gateway.boot()
    first = await gateway.chat_send(MAIN_SESSION, "hi", idempotency_key="k")
    again = await gateway.chat_send(MAIN_SESSION, "hi", idempotency_key="k")
    assert again is first, "in flight: the same run"
    assert (await first.result()).text == gateway.answer("hi")
    later = await gateway.chat_send(MAIN_SESSION, "hi", idempotency_key="k")
    assert (await later.result()).text == ""
    assert [s.outcome for s in gateway.sent] == ["started", "in_flight", "remembered"]
    await gateway.shutdown()
