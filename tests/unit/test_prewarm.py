"""The pre-warm: when it runs a throwaway turn, on which session, against which model; and
the stand-in model it uses instead of a paid one. The gateway is a recording fake here; the
real one is in tests/openclaw/test_coldstart_contract.py."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from serverless_openclaw.agent.prewarm import (
    SCHEDULE_GUARD_S,
    SESSION_KEY,
    STAND_IN_REPLY,
    Prewarm,
    StandInStats,
    stand_in_app,
)
from serverless_openclaw.core.errors import GatewayError, StorageUnavailable


@dataclass
class FakeRun:
    fail: bool = False

    async def result(self) -> Any:
        if self.fail:
            raise GatewayError("run failed", code="RUN_FAILED")
        return "ok"


@dataclass
class FakeGateway:
    """Records what the pre-warm asks of OpenClaw; `stand_in` is called like OpenClaw would."""

    stand_in_url: str | None = None
    fail_runs: bool = False
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sent: list[tuple[str, str]] = field(default_factory=list)

    async def request(
        self, method: str, params: dict[str, Any] | None = None, *, timeout: float | None = None
    ) -> Any:
        self.requests.append((method, params or {}))
        return {"ok": True}

    async def chat_send(
        self, session_key: str, message: str, *, idempotency_key: str | None = None
    ) -> FakeRun:
        self.sent.append((session_key, message))
        if self.stand_in_url:  # OpenClaw calls the session's model
            async with httpx.AsyncClient() as http:
                await http.post(
                    f"{self.stand_in_url}/chat/completions",
                    json={"stream": True, "messages": [{"role": "user", "content": message}]},
                )
        return FakeRun(fail=self.fail_runs)


async def test_with_nothing_waiting_one_turn_runs_on_its_session_with_the_stand_in() -> None:
    prewarm = Prewarm(pending_jobs=lambda: 0)
    url = await prewarm.open()
    assert url is not None and url.startswith("http://127.0.0.1:")
    gateway = FakeGateway(stand_in_url=url)
    try:
        result = await prewarm.run(gateway)
    finally:
        await prewarm.aclose()
    assert result.warmed and result.reason == "warmed"
    assert result.model_calls == 1, "one request, answered by the stand-in, not a paid model"
    assert gateway.requests == [
        ("sessions.patch", {"key": SESSION_KEY, "model": "soc-prewarm/stand-in"})
    ]
    assert [key for key, _ in gateway.sent] == [SESSION_KEY]
    assert SESSION_KEY not in ("agent:main:main",) and not SESSION_KEY.startswith(
        "agent:main:conv-"
    ), "never one of the bridge's sessions"


async def test_a_waiting_message_goes_first_and_no_throwaway_turn_runs() -> None:
    prewarm = Prewarm(pending_jobs=lambda: 1)
    await prewarm.open()
    gateway = FakeGateway()
    try:
        result = await prewarm.run(gateway)
    finally:
        await prewarm.aclose()
    assert not result.warmed and result.reason == "jobs waiting"
    assert gateway.requests == [] and gateway.sent == []


async def test_an_unreadable_inbox_counts_as_maybe_waiting() -> None:
    def depth() -> int:
        raise StorageUnavailable("SQS is down")

    prewarm = Prewarm(pending_jobs=depth)
    gateway = FakeGateway()
    result = await prewarm.run(gateway)
    assert result.reason == "inbox unreadable" and gateway.sent == []


@pytest.mark.parametrize(
    ("due_in", "warmed", "reason"),
    [
        (30.0, False, "scheduled job due"),  # a reminder the wake was for, due during a turn
        (-5.0, False, "scheduled job due"),  # overdue: OpenClaw runs it now
        (SCHEDULE_GUARD_S + 60, True, "warmed"),  # far enough: the warm-up ends first
        (None, True, "warmed"),  # nothing scheduled
    ],
)
async def test_a_scheduled_job_about_to_run_goes_first_and_no_throwaway_turn_runs(
    due_in: float | None, warmed: bool, reason: str
) -> None:
    async def next_job_in() -> float | None:
        return due_in

    prewarm = Prewarm(pending_jobs=lambda: 0, next_job_in=next_job_in)
    url = await prewarm.open()
    gateway = FakeGateway(stand_in_url=url)
    try:
        result = await prewarm.run(gateway)
    finally:
        await prewarm.aclose()
    assert (result.warmed, result.reason) == (warmed, reason)
    assert len(gateway.sent) == (1 if warmed else 0)


async def test_an_unreadable_schedule_means_no_warm_up() -> None:
    async def next_job_in() -> float | None:
        raise GatewayError("gateway busy", code="UNAVAILABLE")

    prewarm = Prewarm(pending_jobs=lambda: 0, next_job_in=next_job_in)
    gateway = FakeGateway()
    result = await prewarm.run(gateway)
    assert result.reason == "schedule unreadable" and gateway.sent == []


async def test_a_failed_warm_up_is_reported_not_raised() -> None:
    prewarm = Prewarm(pending_jobs=lambda: 0)
    await prewarm.open()
    try:
        result = await prewarm.run(FakeGateway(fail_runs=True))
    finally:
        await prewarm.aclose()
    assert not result.warmed and result.reason.startswith("failed:")


async def test_disabled_means_no_stand_in_and_no_turn() -> None:
    prewarm = Prewarm(pending_jobs=lambda: 0, enabled=False)
    assert await prewarm.open() is None
    gateway = FakeGateway()
    assert (await prewarm.run(gateway)).reason == "disabled"
    assert gateway.sent == []


async def test_start_runs_in_the_background_and_aclose_cancels_it() -> None:
    release = asyncio.Event()

    class SlowGateway(FakeGateway):
        async def chat_send(
            self, session_key: str, message: str, *, idempotency_key: str | None = None
        ) -> FakeRun:
            await release.wait()
            return FakeRun()

    prewarm = Prewarm(pending_jobs=lambda: 0)
    await prewarm.open()
    prewarm.start(SlowGateway())
    await asyncio.sleep(0)
    assert prewarm.result is None, "start() returned before the turn ended"
    await prewarm.aclose()
    assert prewarm.result is None


# --- the stand-in model ---------------------------------------------------------------------
async def _post(stats: StandInStats, body: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=stand_in_app(stats))
    async with httpx.AsyncClient(transport=transport, base_url="http://standin") as client:
        return await client.post("/v1/chat/completions", json=body)


async def test_the_stand_in_streams_a_short_openai_style_answer() -> None:
    stats = StandInStats()
    response = await _post(stats, {"stream": True, "messages": [{"role": "user", "content": "x"}]})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in response.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == STAND_IN_REPLY
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert stats.requests == 1


async def test_the_stand_in_answers_a_non_streamed_request_too() -> None:
    stats = StandInStats()
    response = await _post(stats, {"messages": []})
    assert response.json()["choices"][0]["message"]["content"] == STAND_IN_REPLY
    assert response.json()["usage"]["total_tokens"] == 0


@pytest.mark.parametrize("body", [b"not json", b"[]"])
async def test_the_stand_in_never_fails_on_odd_bodies(body: bytes) -> None:
    transport = httpx.ASGITransport(app=stand_in_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://standin") as client:
        response = await client.post("/v1/chat/completions", content=body)
    assert response.status_code == 200


async def test_an_unexpected_error_is_logged_and_never_breaks_the_shutdown(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def depth() -> int:
        raise KeyError("a bug, not an outage")

    prewarm = Prewarm(pending_jobs=depth)
    await prewarm.open()
    prewarm.start(FakeGateway())
    for _ in range(100):
        await asyncio.sleep(0.01)
        if "pre-warm failed" in caplog.text:
            break
    await prewarm.aclose()  # does not raise
    assert "pre-warm failed" in caplog.text and "KeyError" in caplog.text
