"""A turn OpenClaw resumed by itself after a crash is answered once, from its own run."""

from __future__ import annotations

import asyncio

from serverless_openclaw.agent.bridge import answer_in_history
from serverless_openclaw.agent.openclaw.activity import SessionActivity
from serverless_openclaw.agent.openclaw.client import HistoryMessage
from serverless_openclaw.local.offline_model import person_text

MAIN = "agent:main:main"
NOTICE = "[System] Your previous turn was interrupted by a gateway restart while OpenClaw was"


def _lifecycle(run: str, phase: str) -> dict[str, object]:
    return {"runId": run, "sessionKey": MAIN, "stream": "lifecycle", "data": {"phase": phase}}


def _msg(
    role: str, text: str, at: int, run: str | None = None, stop: str | None = None
) -> HistoryMessage:
    return HistoryMessage(
        role=role, text=text, timestamp_ms=at, id=f"m{at}", run_id=run, stop_reason=stop
    )


async def test_a_session_is_quiet_only_once_openclaws_own_run_has_ended() -> None:
    activity = SessionActivity()
    activity.observe("agent", _lifecycle("recovery-1", "start"))
    activity.observe("chat", {"runId": "other", "sessionKey": "agent:main:x", "state": "delta"})
    assert activity.busy_runs(MAIN) == {"recovery-1"}
    assert not await activity.wait_quiet(MAIN, timeout=0.2)

    async def end_later() -> None:
        await asyncio.sleep(0.2)
        activity.observe("chat", {"runId": "recovery-1", "sessionKey": MAIN, "state": "final"})

    ender = asyncio.create_task(end_later())
    assert await activity.wait_quiet(MAIN, timeout=5)
    await ender
    assert activity.busy_runs(MAIN) == frozenset()
    # Late events of an ended run (seen: a chat delta after the lifecycle end) change nothing.
    activity.observe("chat", {"runId": "recovery-1", "sessionKey": MAIN, "state": "delta"})
    activity.observe("agent", _lifecycle("recovery-1", "finishing"))
    assert activity.busy_runs(MAIN) == frozenset()


async def test_settling_waits_for_a_run_that_starts_a_moment_later() -> None:
    activity = SessionActivity()
    activity.observe("agent", _lifecycle("r", "start"))
    activity.observe("agent", _lifecycle("r", "end"))
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await activity.wait_quiet(MAIN, settle_s=0.3, timeout=5)
    assert loop.time() - started >= 0.25
    activity.observe("agent", _lifecycle("late", "start"))
    activity.reset()  # the connection dropped: nothing is known to run any more
    assert await activity.wait_quiet(MAIN, timeout=0.1)


def test_the_answer_is_the_first_one_after_the_message_reached_openclaw() -> None:
    history = [
        _msg("user", "a long answer", 1_000),
        _msg("assistant", "an old answer", 1_500, "k0"),
        _msg("user", "[Thu 2026-11-26 10:00 UTC] a long answer", 50_000),
        _msg("assistant", "[offline model] You sa", 55_000, "k1", stop="aborted"),
        _msg("user", NOTICE, 60_000),
        _msg("assistant", "", 61_000, "recovery"),
        _msg("assistant", "here is the long answer", 62_000, "recovery"),
        _msg("assistant", "a later proactive note", 63_000, "cron"),
    ]
    assert answer_in_history(history, "a long answer", since_ms=45_000) == (
        "here is the long answer"
    )
    assert answer_in_history(history[:4], "a long answer", since_ms=45_000) is None
    assert answer_in_history(history, "never sent", since_ms=0) is None
    # An earlier identical message is not this job's.
    assert answer_in_history(history[:2], "a long answer", since_ms=45_000) is None


def test_offline_model_answers_the_person_inside_openclaws_recovery_prompt() -> None:
    resumed = (
        "[Thu 2026-11-26 10:00 UTC] [Queued user message from a previous active turn; preserved"
        " as context only. Continue with the active prompt below.]\ntell me about Miso\n\n"
        f"{NOTICE} waiting on tool/model work."
    )
    assert person_text([{"role": "user", "content": resumed}]) == "tell me about Miso"
    assert (
        person_text([{"role": "user", "content": "hi"}, {"role": "user", "content": NOTICE}])
        == "hi"
    )
