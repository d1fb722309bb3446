"""What the person sees of spending, through the agent: each reply shows what its turn cost,
heartbeats and automations are counted too, and a spent budget pauses automations (and
chat, if they chose so) until it resets — on the memory adapters, the fake gateway (which
writes usage on its history as OpenClaw does) and a hand-driven clock."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.agent.clock import ManualClock
from serverless_openclaw.agent.metering import BudgetGuard, Meter
from serverless_openclaw.agent.openclaw.fake import FakeGateway
from serverless_openclaw.app.spending import Spending
from serverless_openclaw.contracts.records import UserSettings

from .conftest import USER, BridgeRig, frames, launch, messages, running, stream_ends, until
from .test_scheduler import ms, scheduler
from .test_supervisor import Deployment, new_task

FAKE = "fake/fake-model"
# A dollar per million tokens in and out: a turn of the fake (1,000 prompt tokens plus a token
# per 4 characters of its answer) costs a tenth of a cent and some.
ONE_DOLLAR = {FAKE: {"inputUsdPerMtok": 1.0, "outputUsdPerMtok": 1.0}}


def set_settings(ports: MemoryPorts, **changes: Any) -> UserSettings:
    return ports.user_settings().update(USER, changes)


def spent_today(ports: MemoryPorts, clock: ManualClock) -> float:
    return Spending(ports.counters(), clock=clock.now).totals(USER, "daily").usd


def wire(rig: BridgeRig, ports: MemoryPorts, clock: ManualClock) -> BudgetGuard:
    """The bridge of the rig with metering and the budget, as the supervisor wires them."""
    spending = Spending(ports.counters(), clock=clock.now)
    meter = Meter(USER, spending, ports.user_settings())

    async def pause(_: bool) -> None:
        return None

    async def notify(_: str, __: str) -> None:
        return None

    guard = BudgetGuard(USER, spending, ports.user_settings(), pause=pause, notify=notify)
    bridge = rig.start()
    bridge.meter = meter.record
    bridge.refusal = guard.chat_refusal
    return guard


async def test_a_reply_shows_its_tokens_and_estimated_cost(
    rig: BridgeRig, ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    set_settings(ports, llmPrices=ONE_DOLLAR)
    wire(rig, ports, clock)
    job = rig.send("what does this cost?")
    reply = await rig.answered(job)

    output = len(gateway.answer(job.text)) // 4
    assert reply.usage is not None
    assert (reply.usage.inputTokens, reply.usage.outputTokens) == (1000, output)
    assert reply.usage.model == FAKE
    assert reply.usage.costUsd == pytest.approx((1000 + output) / 1e6)
    # The answer is stored before its end is pushed to the page: wait for what the page sees.
    [end] = await until(lambda: stream_ends(ports, job.jobId), what="the reply's end pushed")
    assert end["usage"]["costUsd"] == pytest.approx(reply.usage.costUsd)
    assert spent_today(ports, clock) == pytest.approx(reply.usage.costUsd, abs=1e-6)


async def test_a_model_without_a_price_shows_tokens_and_no_price(
    rig: BridgeRig, ports: MemoryPorts, clock: ManualClock
) -> None:
    wire(rig, ports, clock)
    reply = await rig.answered(rig.send("and this?"))
    assert reply.usage is not None and reply.usage.inputTokens == 1000
    assert reply.usage.costUsd is None  # the fake reports a zero cost and has no table entry
    totals = Spending(ports.counters(), clock=clock.now).totals(USER, "daily")
    assert totals.micro_usd == 0 and totals.unpriced_tokens == totals.tokens > 1000


async def test_a_spent_budget_refuses_chat_without_asking_the_model(
    rig: BridgeRig, ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    # Priced so that one turn (about 1,010 tokens) costs about a cent: over a $0.01 budget.
    set_settings(
        ports,
        dailyBudgetUsd=0.01,
        llmPrices={FAKE: {"inputUsdPerMtok": 10.0, "outputUsdPerMtok": 10.0}},
    )
    wire(rig, ports, clock)
    first = await rig.answered(rig.send("first question"))
    assert first.error is None

    second_job = rig.send("second question")
    second = await rig.answered(second_job)
    assert second.error is not None and second.error.code == "budget_reached"
    assert not second.error.retryable
    assert "today's LLM budget ($0.01) is used up" in second.text
    assert gateway.turns("second question") == []  # the model was never asked
    [end] = await until(lambda: stream_ends(ports, second_job.jobId), what="the refusal pushed")
    assert end["error"]["code"] == "budget_reached"

    await clock.advance(86400)  # a new UTC day: the budget has reset
    third = await rig.answered(rig.send("a new day"))
    assert third.error is None and gateway.turns("a new day")


async def test_chat_continues_over_budget_when_chosen(
    rig: BridgeRig, ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    set_settings(ports, dailyBudgetUsd=0, chatOverBudget="continue")
    wire(rig, ports, clock)
    reply = await rig.answered(rig.send("still there?"))
    assert reply.error is None and gateway.turns("still there?")


# --- the scheduler: heartbeats, automations, the budget --------------------------------------
class Paused:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    async def __call__(self, paused: bool) -> None:
        self.calls.append(paused)


async def test_heartbeats_and_automations_are_counted_and_a_spent_budget_pauses_them(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    set_settings(
        ports,
        dailyBudgetUsd=0.005,
        llmPrices={FAKE: {"inputUsdPerMtok": 2.0, "outputUsdPerMtok": 2.0}},
        scheduledWakes="own-jobs",
    )
    launch_id = running(ports)
    sched = scheduler(ports, clock, gateway, launch_id)
    spending = Spending(ports.counters(), clock=clock.now)
    pause = Paused()
    sched.meter = Meter(USER, spending, ports.user_settings())
    sched.budget = BudgetGuard(
        USER, spending, ports.user_settings(), pause=pause, notify=sched.tell
    )
    await clock.advance(1)  # after the scheduler started: these runs are news

    # A heartbeat turn in the main session (silent: nothing to deliver, but it cost tokens).
    beat = gateway.add_cron_job("heartbeat-main", next_run_at_ms=ms(clock, 5))
    await gateway.fire_cron_job(beat, "HEARTBEAT_OK")
    await sched.deliver_new()
    await sched.budget.check()
    beat_tokens = 1000 + len("HEARTBEAT_OK") // 4
    assert spent_today(ports, clock) == pytest.approx(beat_tokens * 2 / 1e6, abs=1e-6)
    assert pause.calls == [False]  # the first check writes the config: not paused

    # An isolated automation run: its usage comes on the cron event only.
    gateway.listen(sched.on_event)
    job = gateway.add_cron_job("Daily digest", next_run_at_ms=ms(clock, 3600))
    gateway.finish_isolated_run(job, {"input_tokens": 1500, "output_tokens": 100})
    await sched.deliver_new()
    state = await sched.budget.check()
    assert spent_today(ports, clock) == pytest.approx((beat_tokens + 1600) * 2 / 1e6, abs=1e-6)
    assert state is not None and state.reached == "daily"
    assert pause.calls == [False, True]

    # The person is told once, on every channel (a stored message pushed to the browser).
    notices = [m for m in messages(ports) if m.id.startswith("budget-")]
    assert len(notices) == 1 and notices[0].proactive
    assert "daily budget is $0.01" in notices[0].text
    assert "Automations and heartbeats are paused until" in notices[0].text
    assert any(f.get("id") == notices[0].id for f in frames(ports) if f["type"] == "stream_start")
    await sched.deliver_new()
    await sched.budget.check()
    assert len([m for m in messages(ports) if m.id.startswith("budget-")]) == 1
    assert pause.calls == [False, True]

    # Nothing runs before the budget resets, so no wake-up is asked for before then either.
    wake = await sched.refresh_schedule()
    assert wake is not None and wake.at == sched.budget.resumes_at

    await clock.advance(86400)
    state = await sched.budget.check()
    assert state is not None and state.reached is None
    assert pause.calls == [False, True, False]
    evening = gateway.add_cron_job("Evening reminder", next_run_at_ms=ms(clock, 3600))
    wake = await sched.refresh_schedule()
    assert wake is not None and wake.job_id == evening
    assert wake.at == clock.now() + timedelta(seconds=3600)


async def test_every_call_is_counted_once_however_often_it_is_seen(
    ports: MemoryPorts, clock: ManualClock, gateway: FakeGateway
) -> None:
    set_settings(ports, llmPrices=ONE_DOLLAR)
    sched = scheduler(ports, clock, gateway, running(ports))
    spending = Spending(ports.counters(), clock=clock.now)
    sched.meter = Meter(USER, spending, ports.user_settings())
    await clock.advance(1)
    await gateway.fire_cron_job(gateway.add_cron_job("r", next_run_at_ms=None), "Reminder: tea")
    for _ in range(3):
        await sched.deliver_new()
    # A second task (after a restart) sees the same history: still counted once.
    again = scheduler(ports, clock, gateway, running(ports))
    again.started_ms = 0
    again.meter = Meter(USER, spending, ports.user_settings())
    await again.deliver_new()
    assert spending.totals(USER, "daily").tokens == 1000 + len("Reminder: tea") // 4


# --- the whole task --------------------------------------------------------------------------
async def test_a_task_that_starts_over_budget_starts_with_automations_paused(
    ports: MemoryPorts, clock: ManualClock, tmp_path: Path
) -> None:
    set_settings(ports, monthlyBudgetUsd=0, heartbeat="openclaw")
    task = new_task(Deployment(ports), clock, tmp_path, launch(ports)).start()
    await task.running()
    config_path = task.supervisor.state_dir / "openclaw.json"
    config = json.loads(config_path.read_text())
    assert config["cron"] == {"enabled": False}
    assert config["agents"]["defaults"]["heartbeat"]["every"] == "0m"

    async def notices() -> list[Any]:
        await clock.advance(1)  # the scheduler's passes run on the hand-driven clock
        return [m for m in messages(ports) if m.id.startswith("budget-monthly")]

    notice = await until(notices, what="the notice")
    assert "this month's use" in notice[0].text

    set_settings(ports, monthlyBudgetUsd=None)  # the person lifts the budget
    task.supervisor.scheduler.poke()  # type: ignore[union-attr]

    async def resumed() -> bool:
        await clock.advance(1)
        config = json.loads(config_path.read_text())
        return "cron" not in config and "every" not in config["agents"]["defaults"].get(
            "heartbeat", {}
        )

    await until(resumed, what="automations resumed as the person set them")
    assert await task.stop() == 0
