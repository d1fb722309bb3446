"""Attachments through the real pinned gateway: what the bridge builds for `chat.send`
(agent/attachments.py, from the person's attachment store) reaches the offline model, which
says what it received. Also proves our generated config (the offline model takes images,
`attachments.ttlHours`) is one the gateway starts with."""

from __future__ import annotations

import uuid

import pytest
from tests.media_samples import PDF, png, wav

from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.agent.attachments import chat_attachments
from serverless_openclaw.agent.openclaw.client import GatewayClient
from serverless_openclaw.contracts.frames import Attachment
from serverless_openclaw.core.attachments import check
from serverless_openclaw.local.offline_model import OFFLINE_LABEL

pytestmark = pytest.mark.openclaw


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
