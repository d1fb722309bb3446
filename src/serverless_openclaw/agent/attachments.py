"""A chat job's attachments as OpenClaw's `chat.send` takes them, and what the person is
told about what the model could not take.

The job carries references only (SQS holds 256 KB); the bytes come from the attachment store
under the person's own prefix, which this task may read. OpenClaw wants each file inline, as
base64 in the one `chat.send` frame, with its type, name and size (and an image's pixel size,
a voice note's length); our limits (`contracts/limits.py`) keep that frame well under the
gateway's 25 MiB.

What reaches the model then is OpenClaw's business: an image goes to a model that takes
images (the offline model does) as an image part, text and PDF text are inlined, and audio is
"not analyzed" unless an audio-understanding model is configured — which we never configure,
so a voice note's answer says so (`AUDIO_NOTE`).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, Final

from serverless_openclaw.contracts.frames import Attachment
from serverless_openclaw.core.errors import AttachmentMissing, NotFound
from serverless_openclaw.core.media import image_info
from serverless_openclaw.ports.attachments import AttachmentStore

AUDIO_NOTE: Final = (
    "🎙️ Your voice note is saved, but the configured model cannot listen to audio: it only "
    "knew that a voice note was attached. Type what you said, or switch to a model that "
    "understands audio."
)


def chat_attachments(
    store: AttachmentStore, user_id: str, attachments: Sequence[Attachment]
) -> list[dict[str, Any]]:
    """The `attachments` of `chat.send` (blocking: run it in a thread). `AttachmentMissing`
    when a file's bytes are gone; `StorageUnavailable` when the store cannot be reached."""
    entries: list[dict[str, Any]] = []
    for attachment in attachments:
        try:
            data = store.read(user_id, attachment.id)
        except NotFound as exc:
            raise AttachmentMissing(f"{attachment.name} could not be read any more") from exc
        entry: dict[str, Any] = {
            "type": attachment.kind,
            "mimeType": attachment.contentType,
            "fileName": attachment.name,
            "content": base64.b64encode(data).decode("ascii"),
            "sizeBytes": len(data),
        }
        if attachment.kind == "image":
            info = image_info(data)
            width = info.width if info else attachment.width
            height = info.height if info else attachment.height
            if width and height:
                entry["width"], entry["height"] = width, height
        if attachment.durationMs is not None:
            entry["durationMs"] = attachment.durationMs
        entries.append(entry)
    return entries


def with_notes(text: str, attachments: Sequence[Attachment], *, audio_understood: bool) -> str:
    """The answer, plus what the person should know about attachments the model could not
    take."""
    if audio_understood or not any(a.kind == "audio" for a in attachments):
        return text
    return f"{text}\n\n{AUDIO_NOTE}" if text.strip() else AUDIO_NOTE
