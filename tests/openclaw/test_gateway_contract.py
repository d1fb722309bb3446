"""Contract tests: our client against the real pinned OpenClaw gateway and the offline model.

Every test that uses the session's gateway (`client`, `gateway`) is in this file: pytest-xdist
hands whole files to its workers, and a second file on the other worker would start a second
gateway (~20 CPU-s) for a few turns. So the pre-warm turn and the attachments are here too:
- the pre-warm turn runs on its own session with the stand-in model (no request to the real
  model), and leaves the person's sessions on their model;
- under the default tool policy (`safe`) an exec call the model makes is refused and the person
  still gets an answer (the `shell` policy, with OpenClaw as its own user, is
  test_inside.py's);
- what the bridge builds for `chat.send` (agent/attachments.py, from the person's attachment
  store) reaches the offline model, which says what it received; this also proves our
  generated config (the offline model takes images, `attachments.ttlHours`) is one the
  gateway starts with.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest
from tests.media_samples import PDF, png, wav

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.agent import failures
from serverless_openclaw.agent.attachments import chat_attachments
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
from serverless_openclaw.agent.prewarm import SESSION_KEY, warm_turn
from serverless_openclaw.contracts.frames import Attachment
from serverless_openclaw.core.attachments import check
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


# --- the pre-warm turn -------------------------------------------------------------------
async def test_the_warm_up_turn_uses_the_stand_in_and_the_person_keeps_their_model(
    client: GatewayClient, gateway, offline_model
) -> None:  # type: ignore[no-untyped-def]
    model_calls = offline_model.requests()
    stand_in_calls = gateway.stand_in.stats.requests
    await warm_turn(client, timeout=240)
    assert offline_model.requests() == model_calls, "the warm-up cost no model request"
    assert gateway.stand_in.stats.requests > stand_in_calls

    # Again (every wake reuses the session): still no model request.
    await warm_turn(client, timeout=240)
    assert offline_model.requests() == model_calls

    run = await client.chat_send("agent:main:conv-after-warmup", "are you the real model?")
    end = await run.result()
    assert end.text.startswith(OFFLINE_LABEL), "the override is the warm-up session's alone"
    history = await client.chat_history(SESSION_KEY)
    assert [m.role for m in history][-2:] == ["user", "assistant"]


# --- attachments -------------------------------------------------------------------------
async def send(client: GatewayClient, text: str, *files: tuple[str, str, bytes]) -> str:
    """A turn as the bridge makes it: the files stored, then read back for `chat.send`."""
    ports = MemoryPorts()
    store = ports.attachments()
    attachments = []
    for name, content_type, data in files:
        checked = check(name, content_type, len(data))
        attachment_id = f"att-{uuid.uuid4().hex[:12]}"
        store.put("u1", attachment_id, data, name=checked.name, content_type=checked.content_type)
        attachments.append(
            Attachment(
                id=attachment_id,
                name=checked.name,
                contentType=checked.content_type,
                size=len(data),
                kind=checked.kind,
            )
        )
    key = f"agent:main:att-{uuid.uuid4().hex[:8]}"
    run = await client.chat_send(
        key,
        text,
        idempotency_key=uuid.uuid4().hex,
        attachments=chat_attachments(store, "u1", attachments),
    )
    return (await run.result()).text


async def test_an_image_reaches_the_model_with_its_pixels(client: GatewayClient) -> None:
    image = png(64, 48)
    reply = await send(client, "what is in this picture?", ("desk.png", "image/png", image))
    assert reply.startswith(f"{OFFLINE_LABEL} You said: what is in this picture?")
    assert f"- image: (image/png, 64x48 pixels, {len(image)} bytes)" in reply


async def test_documents_reach_the_model_as_text_under_their_names(client: GatewayClient) -> None:
    reply = await send(
        client,
        "summarise these",
        ("report.pdf", "application/pdf", PDF),
        ("notes.txt", "text/plain", b"The magic word is KUMQUAT."),
    )
    assert "- document: report.pdf (application/pdf, 13 characters of text)" in reply
    assert "- document: notes.txt (text/plain, 26 characters of text)" in reply


async def test_audio_alone_reaches_the_model_as_not_analyzed(client: GatewayClient) -> None:
    reply = await send(client, "", ("memo.wav", "audio/wav", wav()))
    assert reply == f"{OFFLINE_LABEL}\n\nI received:\n- audio: memo.wav (audio/wav, not analyzed)"


# --- the exec tool under the default policy ---------------------------------------------------
async def test_safe_policy_refuses_exec_and_the_person_still_gets_an_answer(
    client: GatewayClient, offline_model
) -> None:  # type: ignore[no-untyped-def]
    marker = f"shell-{uuid.uuid4().hex[:8]}"
    proof = f"ran-{uuid.uuid4().hex[:8]}"
    offline_model.script(
        [
            {
                "match": marker,
                "tool": "exec",
                "tool_arguments": {"command": f"echo {proof}; id"},
                "chunk_chars": 4000,
            }
        ]
    )
    run = await client.chat_send(f"agent:main:inside-{marker}", f"please {marker}")
    end: RunEnd | None = None
    async for event in run:
        if isinstance(event, RunEnd):
            end = event
    assert end is not None and not end.aborted, end
    assert end.text.startswith(f"{OFFLINE_LABEL} The exec tool said:"), end.text
    assert proof not in end.text, "the command did not run"
    assert "uid=" not in end.text
    assert "not found" in end.text.lower() or "denied" in end.text.lower(), end.text


# --- last: its rewrites of openclaw.json reload the gateway's config, and a turn that
# starts during a reload fails ("plugin generation was superseded") ------------------------
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
