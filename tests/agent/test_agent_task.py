"""The agent task on the dev stack, seen from outside: coalesced streaming and clean backups.

One person (`person`, tests/conftest.py) on the aws backend (the backups are read from
moto's S3) goes through both: the first test's turn wakes the agent, the second's finds it
running."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from harness import DevStackProcess

pytestmark = [pytest.mark.openclaw, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def dev_stack(
    tmp_path_factory: pytest.TempPathFactory, openclaw_runtime: Any
) -> Iterator[DevStackProcess]:
    """A dev stack on the aws backend (the test reads moto's S3), stopped with the module."""
    stack = DevStackProcess(tmp_path_factory.mktemp("aws-dev-stack") / "state", backend="aws")
    stack.start()
    yield stack
    stack.stop()


async def test_a_ten_second_reply_is_posted_at_most_about_ten_times_a_second(
    dev_stack, person, figure
) -> None:  # type: ignore[no-untyped-def]
    user = person
    marker = f"story-{uuid.uuid4().hex[:8]}"
    # 2,000 characters in 5-character pieces every 25 ms: 400 deltas over ~10 s.
    dev_stack.offline_model().script(
        [{"match": marker, "repeat_to": 2000, "chunk_chars": 5, "delay_ms": 25}]
    )
    async with user.ws() as ws:
        message = uuid.uuid4().hex
        await ws.send({"action": "send", "id": message, "text": f"tell me a {marker}"})
        await ws.wait_for(lambda f: f.get("type") == "stream_chunk" and f.get("id") == message)
        first = time.monotonic()
        end = await ws.reply_to(message)
        seconds = time.monotonic() - first
        chunks = ws.chunks(message)
    assert len(end["text"]) == 2000
    assert "".join(chunks) == end["text"], "the chunks add up to the reply"
    assert seconds > 5, "the reply really streamed for several seconds"
    rate = len(chunks) / seconds
    figure("web_posts_per_second_of_streaming", rate)
    figure("web_posts_for_400_deltas", len(chunks))
    assert rate <= 12, f"{len(chunks)} posts in {seconds:.1f} s"


async def test_backups_hold_no_secret_values(dev_stack, person) -> None:  # type: ignore[no-untyped-def]
    user = person
    async with user.ws() as ws:
        message = uuid.uuid4().hex
        await ws.send({"action": "send", "id": message, "text": "write this down"})
        await ws.reply_to(message)
    info = dev_stack.agent_process(user)
    status = httpx.get(f"http://127.0.0.1:{info['healthPort']}/status", timeout=10).json()
    environ = Path(f"/proc/{status['gatewayPid']}/environ").read_bytes().split(b"\0")
    gateway_token = next(
        v.split(b"=", 1)[1] for v in environ if v.startswith(b"OPENCLAW_GATEWAY_TOKEN=")
    )
    device_key = (Path(str(info["stateDir"])) / "soc" / "device-key.pem").read_bytes()
    secrets = {
        "gateway token": gateway_token,
        "Telegram bot token": str(dev_stack.info["telegram_bot_token"]).encode(),
        "Telegram webhook secret": str(dev_stack.info["telegram_webhook_secret"]).encode(),
        "device private key": device_key.splitlines()[1],
    }
    dev_stack.stop_agents()  # the final backup happens on the way down

    s3 = dev_stack.aws("s3")
    bucket = str(dev_stack.info["state_bucket"])
    deadline = time.monotonic() + 120
    while dev_stack.task_row(user).get("state") != "idle" and time.monotonic() < deadline:
        time.sleep(1)
    versions = s3.list_object_versions(Bucket=bucket, Prefix=f"agents/{user.user_id}/")
    objects = versions.get("Versions", [])
    assert any(o["Key"].endswith("manifest.json") for o in objects)
    keys = [o["Key"] for o in objects]
    assert any("openclaw.json" in k for k in keys) and any(".sqlite" in k for k in keys)
    assert not any("device-key" in k or k.endswith(".key") or "/cache/" in k for k in keys)
    for version in objects:
        body = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])[
            "Body"
        ].read()
        for name, secret in secrets.items():
            assert secret not in body, f"{name} found in {version['Key']}"
    config = next(o for o in objects if o["Key"].endswith("files/openclaw.json"))
    text = s3.get_object(Bucket=bucket, Key=config["Key"], VersionId=config["VersionId"])[
        "Body"
    ].read()
    auth = json.loads(text)["gateway"]["auth"]
    assert auth == {"mode": "token"}, "the token comes from the gateway's environment"
