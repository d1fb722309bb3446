"""Which scheduled jobs wake a sleeping agent, and which proactive messages reach the person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from serverless_openclaw.agent.openclaw.client import HistoryMessage
from serverless_openclaw.agent.scheduler import proactive_messages
from serverless_openclaw.core.schedule import (
    ScheduledJob,
    keep_awake_for_wake,
    next_wake,
    skipped_wake_notice,
    wake_cap_reached,
)

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def job(
    name: str,
    minutes: float,
    *,
    kind: str = "systemEvent",
    key: str | None = None,
    enabled: bool = True,
) -> ScheduledJob:
    return ScheduledJob(name, name, enabled, NOW + timedelta(minutes=minutes), kind, key)


FRESH_STATE = [
    job("heartbeat-main", 30, kind="heartbeat", key="heartbeat:main"),
    job("Memory Dreaming Promotion", 15 * 60, kind="agentTurn", key="memory-core:promotion"),
    job("skill-collection-review-main", 7 * 24 * 60, kind="agentTurn", key="skill:main"),
]


def test_a_fresh_state_wakes_nobody_by_default() -> None:
    assert next_wake(FRESH_STATE, policy="own-jobs", heartbeat="off", now=NOW) is None


def test_the_persons_reminder_wakes_the_agent() -> None:
    jobs = [*FRESH_STATE, job("Reminder: stretch", 3)]
    wake = next_wake(jobs, policy="own-jobs", heartbeat="off", now=NOW)
    assert wake is not None
    assert (wake.job_name, wake.at) == ("Reminder: stretch", NOW + timedelta(minutes=3))


def test_all_jobs_includes_system_maintenance_and_heartbeat_follows_its_setting() -> None:
    wake = next_wake(FRESH_STATE, policy="all-jobs", heartbeat="off", now=NOW)
    assert wake is not None and wake.job_name == "Memory Dreaming Promotion"
    with_heartbeat = next_wake(FRESH_STATE, policy="own-jobs", heartbeat="openclaw", now=NOW)
    assert with_heartbeat is not None and with_heartbeat.job_name == "heartbeat-main"


def test_none_disabled_and_long_past_jobs_never_wake() -> None:
    jobs = [job("off", 5, enabled=False), job("stale", -30), job("own", 10)]
    assert next_wake(jobs, policy="none", heartbeat="openclaw", now=NOW) is None
    wake = next_wake(jobs, policy="own-jobs", heartbeat="off", now=NOW)
    assert wake is not None and wake.job_name == "own"


def test_an_awake_agent_is_kept_up_for_a_job_within_the_lead_time() -> None:
    at = NOW + timedelta(seconds=90)
    assert keep_awake_for_wake(at, NOW, lead_s=120)
    assert not keep_awake_for_wake(at, NOW, lead_s=60)
    assert keep_awake_for_wake(NOW - timedelta(seconds=30), NOW, lead_s=120), "job running"
    assert not keep_awake_for_wake(NOW - timedelta(minutes=10), NOW, lead_s=120)
    assert not keep_awake_for_wake(None, NOW, lead_s=120)


def test_daily_cap_and_its_notice() -> None:
    assert not wake_cap_reached(2, 3)
    assert wake_cap_reached(3, 3)
    text = skipped_wake_notice("Reminder: stretch", NOW, 3)
    assert "Reminder: stretch" in text and "12:00 UTC" in text and "limit of 3" in text


def test_proactive_messages_are_the_ones_no_job_asked_for() -> None:
    start = int(NOW.timestamp() * 1000)
    history = [
        HistoryMessage("user", "hello", start + 1, "u1"),
        HistoryMessage("assistant", "hi!", start + 2, "a1", run_id="run-of-a-job"),
        HistoryMessage("assistant", "Reminder: stretch now", start + 3, "a2", run_id="cron:x:1"),
        HistoryMessage("assistant", "HEARTBEAT_OK", start + 4, "a3", run_id="cron:hb:1"),
        HistoryMessage("assistant", "old reminder", start - 1000, "a0", run_id="cron:y:1"),
        # What a crash recovery leaves behind after the real answer: a failed run's notice.
        HistoryMessage(
            "assistant",
            "The agent run failed before producing a reply.",
            start + 5,
            "a4",
            run_id="64cc9667",
            stop_reason="error",
        ),
    ]
    found = proactive_messages(history, own_runs={"run-of-a-job"}, since_ms=start)
    assert [m.id for m in found] == ["a2"]


def test_an_answer_to_a_user_message_is_never_proactive_whoever_wrote_it() -> None:
    start = int(NOW.timestamp() * 1000)
    history = [
        HistoryMessage("user", "a long story please", start + 1, "u1"),
        # The gateway crashed mid-turn; OpenClaw resumed the turn by itself after restarting.
        HistoryMessage("assistant", "", start + 2, "a1", run_id="recovered"),
        HistoryMessage("toolResult", "{}", start + 3, "t1"),
        HistoryMessage("assistant", "Once upon a time", start + 4, "a2", run_id="recovered"),
        # The bridge answered the redelivered job with a turn of its own.
        HistoryMessage("user", "a long story please", start + 5, "u2"),
        HistoryMessage("assistant", "Once upon a time", start + 6, "a3", run_id="retry"),
        HistoryMessage("assistant", "Reminder: stretch", start + 7, "a4", run_id="cron-run"),
    ]
    found = proactive_messages(history, own_runs={"retry"}, since_ms=start)
    assert [m.id for m in found] == ["a4"]
