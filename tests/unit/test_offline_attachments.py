"""The offline model reports the attachments OpenClaw passed it. The request shapes below are
the ones the pinned OpenClaw (2026.9.6) sent the offline model (recorded on this machine:
a small image, a large one, a text file, a PDF, a WAV file, a voice note)."""

from __future__ import annotations

import base64
from typing import Any

from tests.media_samples import png

from serverless_openclaw.local.offline_model import OFFLINE_LABEL, Script, decide, person_text

STAMP = "[Mon 2026-11-30 18:54 UTC] "
RUNTIME = {"type": "text", "text": "Runtime: agent=main | session=agent:main:x | model=offline"}
CONTEXT = {
    "role": "user",
    "content": [
        {
            "type": "text",
            "text": "<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>\nConversation data\n"
            "<<<END_OPENCLAW_INTERNAL_CONTEXT>>>",
        }
    ],
}
STAGED = "/s/workspace/media/inbound/openclaw-staged-e3f31c1f/input-fd138dd2.png"


def image_part(data: bytes) -> dict[str, Any]:
    url = "data:image/png;base64," + base64.b64encode(data).decode()
    return {"type": "image_url", "image_url": {"url": url}}


def answer(*user: dict[str, Any]) -> str:
    body = {"messages": [{"role": "system", "content": "You are..."}, *user, CONTEXT]}
    return decide(body, Script()).text


def test_a_small_image_is_reported_with_type_size_and_pixels() -> None:
    image = png(64, 48)
    text = f"{STAMP}[media attached: {STAGED} (image/png)]\nwhat did I send?"
    reply = answer(
        {"role": "user", "content": [{"type": "text", "text": text}, image_part(image), RUNTIME]}
    )
    assert reply == (
        f"{OFFLINE_LABEL} You said: what did I send?\n\nI received:\n"
        f"- image: (image/png, 64x48 pixels, {len(image)} bytes)"
    )


def test_a_large_image_keeps_its_name() -> None:
    image = png(300, 200)
    ref = "media://inbound/noise---d9315862-a1f0-423a-83db-220f9740b968.png"
    text = f"{STAMP}look\n[media attached: {ref}]"
    reply = answer(
        {"role": "user", "content": [{"type": "text", "text": text}, image_part(image), RUNTIME]}
    )
    assert reply.endswith(f"- image: noise.png (image/png, 300x200 pixels, {len(image)} bytes)")
    assert "You said: look\n" in reply


def test_two_images_each_with_their_pixels() -> None:
    text = (
        f"{STAMP}[media attached: 2 files]\n[media attached 1/2: {STAGED} (image/png)]\n"
        f"[media attached 2/2: {STAGED} (image/png)]\nboth"
    )
    content = [{"type": "text", "text": text}, image_part(png(10, 20)), image_part(png(30, 40))]
    reply = answer({"role": "user", "content": [*content, RUNTIME]})
    assert "You said: both\n" in reply
    assert "10x20 pixels" in reply and "30x40 pixels" in reply


def test_a_document_is_reported_by_name_and_its_text() -> None:
    ref = "media://inbound/report---68c9b035-5c2c-4375-bd0d-0673d23769a3.pdf"
    text = (
        f"{STAMP}[media attached: {ref} (application/pdf)]\nsummarise\n[media attached: {ref}]\n\n"
        '<file name="report---68c9b035-5c2c-4375-bd0d-0673d23769a3.pdf" mime="application/pdf">'
        '\n\n<<<EXTERNAL_UNTRUSTED_CONTENT id="04a9">>>\nSource: External\n---\nMagic KUMQUAT\n'
        '<<<END_EXTERNAL_UNTRUSTED_CONTENT id="04a9">>>\n</file>\n\nRuntime: agent=main | x'
    )
    reply = answer({"role": "user", "content": text})
    assert reply == (
        f"{OFFLINE_LABEL} You said: summarise\n\nI received:\n"
        "- document: report.pdf (application/pdf, 13 characters of text)"
    )


def test_audio_is_reported_as_not_analyzed_even_without_words() -> None:
    ref = "media://inbound/memo---8ba9ca9d-be6b-4b1e-b99a-26fb2ea46d01.wav"
    text = (
        f"{STAMP}[media attached: {ref} (audio/wav)]\n[media attached: {ref}]\n\n"
        "[Audio attachment not analyzed: no audio-understanding model is configured]"
    )
    earlier = {"role": "user", "content": f"{STAMP}an older message"}
    reply = answer(
        earlier, {"role": "assistant", "content": "ok"}, {"role": "user", "content": text}
    )
    assert reply == (f"{OFFLINE_LABEL}\n\nI received:\n- audio: memo.wav (audio/wav, not analyzed)")


def test_a_voice_note_wrapped_for_transcription_is_audio_with_the_words_kept() -> None:
    ref = "media://inbound/voice-9---28309ee0-7ddc-47cc-8f59-62f62f9ef0e0.ogg"
    text = (
        f"{STAMP}[Audio]\nUser text:\nlisten\n[media attached: {ref}]\nTranscript:\n"
        "[Voice note could not be transcribed because the audio attachment was too small]"
    )
    message = {"role": "user", "content": text}
    assert person_text([message, CONTEXT]) == "listen"
    assert answer(message).endswith("- audio: voice-9.ogg (audio, not analyzed)")


def test_plain_text_gets_no_report() -> None:
    assert (
        answer({"role": "user", "content": f"{STAMP}hello"}) == f"{OFFLINE_LABEL} You said: hello"
    )
