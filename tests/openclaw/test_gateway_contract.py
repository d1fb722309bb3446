"""Contract tests: our client against the real pinned OpenClaw gateway and the offline model."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from serverless_openclaw.agent import failures
from serverless_openclaw.agent.openclaw.client import (
    GatewayClient,
    RunDelta,
    RunEnd,
    RunStatus,
)
from serverless_openclaw.agent.openclaw.config import (
    ConfigInvalid,
    ModelChoice,
    patch_config,
    read_config,
    validate,
    write_config,
)
from serverless_openclaw.agent.openclaw.device import DeviceIdentity
from serverless_openclaw.core.errors import GatewayAuthError, GatewayError
from serverless_openclaw.core.spend import TokenUsage
from serverless_openclaw.local.offline_model import OFFLINE_LABEL
from serverless_openclaw.settings import environ_snapshot

pytestmark = pytest.mark.openclaw


def session_key() -> str:
    return f"agent:main:test-{uuid.uuid4().hex[:8]}"


async def test_connects_with_token_and_device_identity(client: GatewayClient) -> None:
    assert client.hello is not None
    assert client.hello.protocol in (3, 4)
    assert "chat.send" in client.hello.methods
    health = await client.health()
    assert health.get("ok") is True


async def test_wrong_token_is_a_clear_authentication_error(gateway) -> None:  # type: ignore[no-untyped-def]
    bad = GatewayClient(gateway.url, "not-the-token", identity=DeviceIdentity.generate())
    with pytest.raises(GatewayAuthError) as caught:
        await bad.start(timeout=30)
    await bad.close()
    assert caught.value.code == "AUTH_TOKEN_MISMATCH"
    assert "token" in str(caught.value).lower()


async def test_reply_streams_in_several_deltas_and_final_equals_model_reply(
    client: GatewayClient, offline_model
) -> None:  # type: ignore[no-untyped-def]
    offline_model.script([], default_delay_ms=20.0, default_chunk_chars=6)
    run = await client.chat_send(session_key(), "tell me about tide pools")
    deltas: list[str] = []
    phases: list[str] = []
    end: RunEnd | None = None
    async for event in run:
        if isinstance(event, RunDelta):
            deltas.append(event.update.appended)
        elif isinstance(event, RunStatus):
            phases.append(event.phase)
        elif isinstance(event, RunEnd):
            end = event
    assert end is not None and not end.aborted
    assert end.text == f"{OFFLINE_LABEL} You said: tell me about tide pools"
    assert len([d for d in deltas if d]) > 1, deltas
    assert phases, "the gateway reports run phases (shown to the person during a turn)"


async def test_two_sessions_keep_separate_histories(client: GatewayClient) -> None:
    first, second = session_key(), session_key()
    await (await client.chat_send(first, "my cat is called Miso")).result()
    await (await client.chat_send(second, "my dog is called Rex")).result()
    answer = await (await client.chat_send(first, "what did I say before?")).result()
    assert "Miso" in answer.text
    assert "Rex" not in answer.text


async def test_history_returns_both_turns(client: GatewayClient) -> None:
    key = session_key()
    reply = await (await client.chat_send(key, "remember the number 4711")).result()
    history = await client.chat_history(key)
    roles = [m.role for m in history]
    assert roles == ["user", "assistant"]
    assert history[0].text == "remember the number 4711"
    assert history[1].text == reply.text


async def test_a_message_with_a_nul_character_is_refused_for_good(client: GatewayClient) -> None:
    """What the bridge classifies as permanent (agent/failures.py), and the fake gateway
    imitates: an INVALID_REQUEST answer to chat.send, not marked retryable."""
    with pytest.raises(GatewayError) as refused:
        await client.chat_send(session_key(), "before\u0000after")
    assert type(refused.value) is GatewayError
    assert (refused.value.code, refused.value.retryable) == ("INVALID_REQUEST", False)
    assert "null bytes" in str(refused.value)
    assert failures.refusal(refused.value) is not None


async def test_abort_stops_a_slow_reply(client: GatewayClient, offline_model) -> None:  # type: ignore[no-untyped-def]
    offline_model.script([{"match": "slow", "repeat_to": 4000, "chunk_chars": 4, "delay_ms": 50}])
    key = session_key()
    run = await client.chat_send(key, "a slow story please")
    seen = ""
    async for event in run:
        if isinstance(event, RunDelta) and len(event.update.text) > 40:
            seen = event.update.text
            await client.chat_abort(key, run.run_id)
            break
    end = await asyncio.wait_for(run.result(), 30)
    assert end.aborted
    assert len(end.text) < 4000
    assert end.text.startswith(seen[:20])


async def test_a_run_in_flight_fails_clearly_when_the_gateway_dies_and_the_client_reconnects(
    client: GatewayClient, gateway, offline_model
) -> None:  # type: ignore[no-untyped-def]
    """The gateway killed mid-reply: the run in flight ends with a clear error (never a
    silent hang), and once the gateway is back the same client reconnects and answers."""
    from serverless_openclaw.core.errors import GatewayDisconnected

    offline_model.script([{"match": "long", "repeat_to": 3000, "chunk_chars": 4, "delay_ms": 50}])
    before = client.connections
    run = await client.chat_send(session_key(), "a long answer")
    async for event in run:
        if isinstance(event, RunDelta):
            break
    gateway.process.kill()
    with pytest.raises(GatewayDisconnected):
        await asyncio.wait_for(run.result(), 30)
    await gateway.process.wait()
    await gateway.restart()
    await client.wait_connected(timeout=60)
    assert client.connections > before
    end = await (await client.chat_send(session_key(), "still there?")).result()
    assert end.text.endswith("You said: still there?")


def test_validate_lists_the_issues_of_an_unknown_key(
    openclaw_runtime, offline_model, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    good = patch_config(
        None, port=18999, model=ModelChoice("offline", base_url=offline_model.base_url)
    )
    write_config(tmp_path / "openclaw.json", good)
    env = {**environ_snapshot(), "OPENCLAW_GATEWAY_TOKEN": "x" * 32}
    validate(openclaw_runtime, tmp_path, env)

    bad = json.loads(json.dumps(good))
    bad["gateway"]["listenEverywhere"] = True
    write_config(tmp_path / "openclaw.json", bad)
    with pytest.raises(ConfigInvalid) as caught:
        validate(openclaw_runtime, tmp_path, env)
    assert any(issue.get("path") == "gateway" for issue in caught.value.issues)
    assert "listenEverywhere" in str(caught.value)


@pytest.mark.parametrize("provider", ["anthropic", "openai", "bedrock", "openai-compatible"])
def test_every_provider_config_is_accepted_by_the_gateway(
    openclaw_runtime, tmp_path: Path, provider: str
) -> None:  # type: ignore[no-untyped-def]
    config = patch_config(
        None,
        port=18999,
        model=ModelChoice(provider, base_url="http://127.0.0.1:1/v1"),  # type: ignore[arg-type]
    )
    write_config(tmp_path / "openclaw.json", config)
    env = {**environ_snapshot(), "OPENCLAW_GATEWAY_TOKEN": "x" * 32, "SOC_MODEL_API_KEY": "k"}
    validate(openclaw_runtime, tmp_path, env)


async def test_a_turn_reports_its_usage_in_history(client: GatewayClient, offline_model) -> None:  # type: ignore[no-untyped-def]
    """Spending is counted from here: `chat` events carry no usage; the assistant message in
    `chat.history` does, with the provider, the model and the run that wrote it."""
    offline_model.script(
        [{"match": "metered", "prompt_tokens": 5000, "completion_tokens": 7, "cached_tokens": 1000}]
    )
    key = session_key()
    run = await client.chat_send(key, "a metered question")
    await run.result()
    replies = [m for m in await client.chat_history(key) if m.role == "assistant"]
    assert len(replies) == 1
    reply = replies[0]
    assert reply.run_id == run.run_id
    assert reply.model == "offline/offline-echo"
    assert reply.usage == TokenUsage(input=4000, output=7, cache_read=1000)
    call = reply.model_call()
    assert call is not None and call.id == f"oc-{reply.id}"


async def test_automations_pause_and_resume_through_the_config(
    client: GatewayClient, gateway
) -> None:  # type: ignore[no-untyped-def]
    """A spent budget rewrites `openclaw.json` with `cron.enabled: false` (and the heartbeat
    off); the running gateway applies it without a restart, and the rewrite back resumes."""
    path = gateway.state_dir / "openclaw.json"
    original = read_config(path)
    assert original is not None

    async def cron_enabled() -> bool:
        status = await client.request("cron.status", {})
        return bool(status["enabled"])

    async def becomes(wanted: bool) -> None:
        for _ in range(120):
            if await cron_enabled() is wanted:
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"cron.status never reported enabled={wanted}")

    assert await cron_enabled()
    pid = gateway.process.pid
    port = original["gateway"]["port"]
    model = ModelChoice("offline", base_url=original["models"]["providers"]["offline"]["baseUrl"])
    try:
        write_config(path, patch_config(original, port=port, model=model, automations_paused=True))
        await becomes(False)
        assert read_config(path)["agents"]["defaults"]["heartbeat"]["every"] == "0m"  # type: ignore[index]
        write_config(path, patch_config(original, port=port, model=model))
        await becomes(True)
    finally:
        write_config(path, original)
    assert gateway.process.pid == pid, "applied without restarting the gateway"
