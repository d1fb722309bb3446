"""The bridge with attachments: a job names files, OpenClaw gets their bytes inline (with
type, name, size and an image's pixel size), and the person is told what could not be done
(a voice note the model cannot hear, a file whose bytes are gone)."""

from __future__ import annotations

import base64
import uuid

from serverless_openclaw.agent.attachments import AUDIO_NOTE
from serverless_openclaw.contracts.frames import Attachment
from serverless_openclaw.contracts.jobs import ChatJob, WebReplyTo
from serverless_openclaw.contracts.limits import MAIN_CONVERSATION_ID

from .conftest import USER, BridgeRig, messages, stream_ends, until

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x40\x00\x00\x00\xf0" + b"\x00" * 64


def stored(rig: BridgeRig, name: str, data: bytes, content_type: str, kind: str) -> Attachment:
    attachment_id = f"att-{uuid.uuid4().hex[:12]}"
    rig.ports.attachments().put(USER, attachment_id, data, name=name, content_type=content_type)
    return Attachment.model_validate(
        {
            "id": attachment_id,
            "name": name,
            "contentType": content_type,
            "size": len(data),
            "kind": kind,
        }
    )


def send(rig: BridgeRig, text: str, *attachments: Attachment) -> ChatJob:
    job = ChatJob(
        jobId=uuid.uuid4().hex,
        userId=USER,
        source="web",
        conversationId=MAIN_CONVERSATION_ID,
        text=text,
        replyTo=WebReplyTo(),
        receivedAt=rig.clock.now(),
        attachments=attachments,
    )
    rig.ports.inbox().send(job)
    return job


async def test_openclaw_gets_the_files_inline_with_what_they_are(rig: BridgeRig) -> None:
    photo = stored(rig, "desk.png", PNG, "image/png", "image")
    notes = stored(rig, "notes.md", b"# plan\n", "text/markdown", "file")
    rig.start()
    job = send(rig, "what do you see?", photo, notes)
    await rig.answered(job)

    [sent] = rig.gateway.turns("what do you see?")
    image, document = sent.attachments
    assert base64.b64decode(image["content"]) == PNG
    assert {k: v for k, v in image.items() if k != "content"} == {
        "type": "image",
        "mimeType": "image/png",
        "fileName": "desk.png",
        "sizeBytes": len(PNG),
        "width": 320,
        "height": 240,
    }
    assert base64.b64decode(document["content"]) == b"# plan\n"
    assert (document["fileName"], document["mimeType"]) == ("notes.md", "text/markdown")
    assert "width" not in document
    user_message = messages(rig.ports)[0]
    assert user_message.attachments == (photo, notes)


async def test_a_file_alone_is_sent_with_no_text(rig: BridgeRig) -> None:
    notes = stored(rig, "notes.txt", b"hello", "text/plain", "file")
    rig.start()
    job = send(rig, "", notes)
    await rig.answered(job)
    [sent] = [s for s in rig.gateway.sent if s.attachments]
    assert sent.text == ""
    assert sent.attachments[0]["fileName"] == "notes.txt"


async def test_a_voice_note_is_passed_on_and_the_answer_says_the_model_cannot_hear(
    rig: BridgeRig,
) -> None:
    voice = stored(rig, "voice-7.ogg", b"OggS\x00" + b"\x01" * 50, "audio/ogg", "audio")
    rig.start()
    job = send(rig, "listen to this", voice)
    reply = await rig.answered(job)

    [sent] = rig.gateway.turns("listen to this")
    assert sent.attachments[0]["mimeType"] == "audio/ogg"
    assert reply.text.endswith(AUDIO_NOTE)
    assert reply.text.startswith(rig.gateway.answer("listen to this"))
    [end] = await until(lambda: stream_ends(rig.ports, job.jobId), what="the reply's end pushed")
    assert end["text"] == reply.text


async def test_a_file_whose_bytes_are_gone_is_answered_with_why(rig: BridgeRig) -> None:
    gone = stored(rig, "old.pdf", b"%PDF-1.4", "application/pdf", "file")
    rig.ports.attachments().delete(USER, gone.id)
    rig.start()
    job = send(rig, "summarise", gone)
    reply = await rig.answered(job)
    await until(lambda: rig.depth() == 0, what="the job acknowledged")

    assert reply.error is not None
    assert reply.error.code == "attachment_missing"
    assert "old.pdf could not be read any more" in reply.text
    assert rig.gateway.sent == []  # the model was not asked half a question
