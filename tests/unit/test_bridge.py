"""The bridge with the memory adapters and the fake gateway: what the person sees of a turn,
and what a crash, a redelivery, a fenced task or a deleted conversation changes about it."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from serverless_openclaw.agent.bridge import session_key
from serverless_openclaw.agent.openclaw.fake import Crash, Fail, Reply, Stall
from serverless_openclaw.contracts.jobs import ChatJob
from serverless_openclaw.contracts.limits import MAIN_CONVERSATION_ID
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.errors import Fenced, StorageUnavailable

from .conftest import USER, BridgeRig, frames, launch, messages, stream_ends, until


async def test_a_turn_streams_to_the_browser_and_is_stored_under_its_question(
    rig: BridgeRig,
) -> None:
    rig.gateway.script("Miso", Reply("Miso is a fine name for a cat.", chunks=4))
    rig.start()
    job = rig.send("my cat is called Miso")

    reply = await rig.answered(job)
    await until(lambda: rig.depth() == 0, what="the job acknowledged")

    assert reply.text == "Miso is a fine name for a cat."
    assert [(m.role, m.id) for m in messages(rig.ports)] == [
        ("user", job.jobId),
        ("assistant", reply.id),
    ]
    seen = [f for f in frames(rig.ports) if f.get("id") == job.jobId]
    assert seen[0]["type"] == "stream_start"
    chunks = "".join(f["text"] for f in seen if f["type"] == "stream_chunk")
    assert seen[-1]["type"] == "stream_end"
    assert seen[-1]["text"] == reply.text, "the browser ends with the stored reply"
    # The clock stood still: coalescing held the rest of the stream for stream_end.
    assert chunks and reply.text.startswith(chunks)
    assert len(rig.gateway.turns("my cat is called Miso")) == 1


async def test_a_model_failure_is_answered_with_why_and_a_way_to_send_again(
    rig: BridgeRig,
) -> None:
    rig.gateway.script("weather", Fail("model overloaded"))
    rig.start()
    job = rig.send("what is the weather?")
    reply = await rig.answered(job)
    await until(lambda: rig.depth() == 0, what="the job acknowledged")

    assert reply.error is not None
    assert (reply.error.code, reply.error.retryable) == ("model_error", True)
    assert "model overloaded" in reply.text
    [end] = stream_ends(rig.ports, job.jobId)
    assert end["error"] == {"code": "model_error", "message": "model overloaded", "retryable": True}


async def test_memory_is_backed_up_before_the_answer_is_stored_and_acknowledged(
    rig: BridgeRig,
) -> None:
    rig.start()
    job = rig.send("remember: the spare key is under the pot")
    await rig.answered(job)
    assert len(rig.backup_calls) == 1
    assert rig.backup_calls[0]["messages"] == [job.jobId], (
        "the backup ran after the turn and before the reply was stored"
    )


async def test_three_questions_back_to_back_are_answered_in_order(rig: BridgeRig) -> None:
    rig.start()
    jobs = []
    for n in (1, 2, 3):
        jobs.append(rig.send(f"question {n}"))
        await rig.clock.advance(1)
    for job in jobs:
        await rig.answered(job)
    listed = [(m.role, m.inReplyTo or m.id) for m in messages(rig.ports)]
    assert listed == [(role, j.jobId) for j in jobs for role in ("user", "assistant")]


async def test_a_job_answered_before_it_came_back_is_taken_from_the_restored_history(
    rig: BridgeRig,
) -> None:
    """A crash after the turn's backup, before the reply was stored: the job comes back,
    OpenClaw (restored) already holds the answer; it is not asked a second time."""
    job = rig.send("what is the capital of Australia?")
    # The first delivery ran the turn on OpenClaw, then its task died.
    first = rig.ports.inbox_consumer(rig.queue_url).receive(wait_seconds=0, visibility_timeout=30)
    assert [r.job for r in first] == [job]
    run = await rig.gateway.chat_send(
        session_key(MAIN_CONVERSATION_ID), job.text, idempotency_key=job.jobId
    )
    answer = (await run.result()).text
    await rig.clock.advance(31)  # the dead task's visibility timeout runs out

    rig.start()
    reply = await rig.answered(job)
    await until(lambda: rig.depth() == 0, what="the job acknowledged")

    assert reply.text == answer
    assert len(rig.gateway.turns(job.text)) == 1, "OpenClaw answered once"
    assert [s.outcome for s in rig.gateway.sent] == ["started"], "and was not asked again"
    assert [f["text"] for f in stream_ends(rig.ports, job.jobId)] == [answer]


async def crash_mid_reply_then_reboot(rig: BridgeRig) -> tuple[ChatJob, Message]:
    """A question whose reply the gateway dies in the middle of; the gateway is then started
    again (what the supervisor's gateway monitor does). Returns the job and its stored reply,
    once the job is acknowledged."""
    rig.gateway.script("long story", Crash(partial="Once upon a"))
    rig.start()
    job = rig.send("tell me a long story")
    await until(lambda: rig.gateway.crashes == 1, what="the gateway crash")
    await rig.gateway.boot()
    reply = await rig.answered(job)
    await until(lambda: rig.depth() == 0, what="the job acknowledged")
    return job, reply


async def test_a_gateway_crash_mid_reply_hands_the_job_back_and_it_is_answered_once(
    rig: BridgeRig,
) -> None:
    job, reply = await crash_mid_reply_then_reboot(rig)

    # OpenClaw's own restart recovery answered the interrupted turn; the job that came
    # back takes that answer instead of asking again.
    assert reply.text == rig.gateway.answer(job.text)
    assert len(rig.gateway.turns(job.text)) == 1
    assert len([m for m in messages(rig.ports) if m.role == "assistant"]) == 1
    ends = stream_ends(rig.ports, job.jobId)
    assert [e["text"] for e in ends] == [reply.text], "one complete answer reached the browser"
    assert rig.bridge is not None
    assert [t.outcome for t in rig.bridge.turns] == ["released", "answered"]


async def test_a_recovery_that_starts_late_is_awaited_and_the_message_is_never_sent_twice(
    rig: BridgeRig,
) -> None:
    """On a loaded machine OpenClaw starts its restart recovery seconds after the gateway is
    back (14 s seen in CI): the job that came back must wait for it, not send the message
    again, or the agent remembers the person saying it twice."""
    rig.gateway.recovery_delay_s = 1.0  # far beyond the settle time (FAST: 0.05 s)
    job, reply = await crash_mid_reply_then_reboot(rig)

    assert reply.text == rig.gateway.answer(job.text)
    assert [s.outcome for s in rig.gateway.sent] == ["started"], "never sent again"
    said = [m for m in rig.gateway.history() if m.role == "user" and m.text.endswith(job.text)]
    assert len(said) == 1, "the agent remembers the message once"
    assert len(stream_ends(rig.ports, job.jobId)) == 1


async def test_without_openclaws_own_recovery_the_job_that_came_back_is_sent_again(
    rig: BridgeRig,
) -> None:
    rig.gateway.recovery = False
    job, reply = await crash_mid_reply_then_reboot(rig)

    assert reply.text == rig.gateway.answer(job.text)
    assert len(rig.gateway.turns(job.text)) == 2, "asked again: nobody had answered"
    assert len(stream_ends(rig.ports, job.jobId)) == 1


async def test_a_fenced_task_stops_taking_jobs_and_writes_nothing(rig: BridgeRig) -> None:
    """The control plane gave the user a new launch (this task is an orphan): its first
    write is refused, the job goes back for the current task, nothing is answered."""
    rig.start()
    before = rig.ports.task_state().get(USER)
    launch(rig.ports)  # a newer launch owns the row now
    current = rig.ports.task_state().get(USER)
    job = rig.send("are you there?")

    await until(lambda: rig.fatal, what="the bridge giving up")

    assert isinstance(rig.fatal[0], Fenced)
    assert rig.bridge is not None
    assert rig.bridge.fenced is not None
    assert messages(rig.ports) == [], "neither the question nor an answer was stored"
    assert rig.gateway.sent == [], "OpenClaw was not asked"
    assert rig.backup_calls == []
    assert rig.ports.task_state().get(USER) == current, "the row was not touched"
    assert before.launch_id != current.launch_id
    again = rig.ports.inbox_consumer(rig.queue_url).receive(wait_seconds=1)
    assert [r.job for r in again] == [job], "the job is back in the inbox at once"
    await asyncio.wait_for(rig._task, 5)  # type: ignore[arg-type]  # the receive loop ended


async def test_a_backup_refused_by_the_fence_leaves_the_answer_unstored_and_the_job_queued(
    rig: BridgeRig,
) -> None:
    rig.backup_error = Fenced("backup: launch is no longer current")
    rig.start()
    job = rig.send("hello")
    await until(lambda: rig.fatal, what="the bridge giving up")
    assert [m.role for m in messages(rig.ports)] == ["user"]
    assert not stream_ends(rig.ports, job.jobId)
    assert rig.depth() == 1


async def test_a_failed_or_slow_backup_does_not_hold_the_answer_back(rig: BridgeRig) -> None:
    rig.backup_error = StorageUnavailable("the state bucket is down")
    rig.start()
    first = rig.send("one")
    assert (await rig.answered(first)).text

    rig.backup_error = None
    rig.backup_hangs = asyncio.Event()
    assert rig.bridge is not None
    rig.bridge.options = replace(rig.options, backup_timeout_s=0.05)
    second = rig.send("two")
    assert (await rig.answered(second)).text
    await until(lambda: rig.depth() == 0, what="both jobs acknowledged")
    rig.backup_hangs.set()


async def test_a_message_to_a_conversation_deleted_before_its_turn_is_dropped_quietly(
    rig: BridgeRig,
) -> None:
    conversations = rig.ports.conversations()
    job = rig.send("first words", conversation_id="c-trip")
    conversations.put_message(USER, job.user_message())  # what the handler stores
    conversations.delete_conversation(USER, "c-trip")

    rig.start()
    await until(lambda: rig.depth() == 0, what="the job acknowledged")

    assert rig.gateway.sent == [], "no turn for a conversation that is gone"
    assert conversations.get_conversation(USER, "c-trip") is None
    assert not [f for f in frames(rig.ports) if f.get("type") == "error"]
    assert rig.fatal == []


async def test_a_reply_to_a_conversation_deleted_during_the_turn_is_not_stored(
    rig: BridgeRig,
) -> None:
    conversations = rig.ports.conversations()
    rig.gateway.script("slow", Stall(partial="Let me think"))
    rig.start()
    job = rig.send("a slow question", conversation_id="c-trip")
    await until(lambda: rig.gateway.sent, what="the turn")
    await until(lambda: conversations.get_conversation(USER, "c-trip"), what="the question")
    conversations.delete_conversation(USER, "c-trip")
    await rig.gateway.chat_abort(session_key("c-trip"))  # the stalled run ends

    await until(lambda: rig.depth() == 0, what="the job acknowledged")

    assert conversations.get_conversation(USER, "c-trip") is None, "it stays deleted"
    assert not conversations.has_message(USER, "c-trip", f"{job.jobId}:r")
    assert rig.fatal == []
    later = rig.send("still there?")
    assert (await rig.answered(later)).text, "the bridge goes on"
