"""Pictures and files from the web app: the limits are on screen before anything is picked, a
file too big is refused before it is uploaded, picked / dropped / pasted files show previews
and upload at once, the agent says what it received, and the conversation shows a thumbnail
and a download link — after a reload too."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect
from tests.media_samples import png

from .conftest import COLD_START_S, REPLY_S, App, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

NOTES = b"Shopping: tea, milk, KUMQUATS.\n"
ATTACHED_REPLY_S = 2 * REPLY_S
"""OpenClaw reads the files before the turn: a reply stayed "streaming" past 60 s once on a
shared 2-core machine at load 35."""


async def loaded(image: Any, width: int) -> None:
    """The picture itself arrived (not just the element): the browser decoded it."""

    async def decoded() -> bool:
        return bool(await image.evaluate("img => img.complete && img.naturalWidth") == width)

    await wait_until(decoded, timeout_s=15, what=f"a {width}-pixel-wide picture")


async def drop_and_paste(app: App, picture: bytes) -> None:
    """A picture dragged onto the conversation, another pasted into the message box, the way
    the browser delivers them (a DataTransfer holding files)."""
    await app.page.evaluate(
        """([b64]) => {
          const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
          const transfer = (name) => {
            const dt = new DataTransfer();
            dt.items.add(new File([bytes], name, { type: "image/png" }));
            return dt;
          };
          const chat = document.querySelector('[data-testid="chat"]');
          const dropped = transfer("dropped.png");
          const options = { bubbles: true, cancelable: true };
          chat.dispatchEvent(new DragEvent("dragover", { dataTransfer: dropped, ...options }));
          chat.dispatchEvent(new DragEvent("drop", { dataTransfer: dropped, ...options }));
          const input = document.querySelector('[data-testid="message-input"]');
          const pasted = transfer("pasted.png");
          input.dispatchEvent(new ClipboardEvent("paste", { clipboardData: pasted, ...options }));
        }""",
        [base64.b64encode(picture).decode()],
    )


async def test_pictures_and_files_sent_from_the_web_app(stack, chat_user, open_app) -> None:  # type: ignore[no-untyped-def]
    app = await open_app(stack)
    uploads: list[str] = []
    # Uploads only: the page also GETs the thumbnails of earlier messages in its history.
    app.page.on(
        "request",
        lambda r: (
            uploads.append(r.url) if "/api/attachments" in r.url and r.method != "GET" else None
        ),
    )
    await app.sign_in(chat_user)
    await app.by("new-conversation").click()
    await app.wait_agent("running", timeout_s=COLD_START_S)

    # The limits show before anything is picked; a file over them is refused at once.
    await expect(app.by("attachment-limits")).to_contain_text(
        "images (PNG, JPEG, GIF, WebP) up to 5 MB"
    )
    too_big = {
        "name": "huge.png",
        "mimeType": "image/png",
        "buffer": b"\x00" * (5 * 1024 * 1024 + 1),
    }
    await app.by("attachment-input").set_input_files(too_big)
    await expect(app.by("attachment-error")).to_have_text(
        "huge.png: 5.1 MB is over the 5 MB limit for images."
    )
    assert uploads == [], "nothing was uploaded"

    picture = png(64, 48)
    await app.by("attachment-input").set_input_files(
        [
            {"name": "desk.png", "mimeType": "image/png", "buffer": picture},
            {"name": "notes.txt", "mimeType": "text/plain", "buffer": NOTES},
        ]
    )
    chips = app.by("pending-attachment")
    await expect(chips).to_have_count(2)
    await expect(chips.nth(0).locator("img")).to_have_attribute("alt", "Preview of desk.png")
    await expect(chips.nth(0)).to_have_attribute("data-status", "ready")
    await expect(chips.nth(1)).to_have_attribute("data-status", "ready")
    assert len(uploads) == 2, uploads  # one form each: what the check above would have seen
    await app.screenshot("chat-attachments-picked")

    message = await app.send("what did I send?")
    reply = await app.wait_reply(message, timeout_s=ATTACHED_REPLY_S)
    assert "You said: what did I send?" in reply, reply
    assert f"image: (image/png, 64x48 pixels, {len(picture)} bytes)" in reply, reply
    assert f"document: notes.txt (text/plain, {len(NOTES.strip())} characters of text)" in reply
    await expect(app.by("pending-attachment")).to_have_count(0)

    mine = app.messages("user").last
    thumbnail = mine.get_by_test_id("attachment-thumbnail")
    await expect(thumbnail).to_have_attribute("alt", "desk.png")
    await loaded(thumbnail, 64)
    async with app.page.expect_download() as started:
        await mine.get_by_test_id("attachment-download").click()
    download = await started.value
    assert download.suggested_filename == "notes.txt"
    assert Path(await download.path()).read_bytes() == NOTES
    await app.screenshot("chat-attachments")

    # Dropped and pasted pictures join the next message the same way.
    await drop_and_paste(app, png(8, 8))
    await expect(app.by("pending-attachment")).to_have_count(2)
    names = await app.by("pending-attachment").locator(".attachment-name").all_inner_texts()
    assert names == ["dropped.png", "pasted.png"]
    await expect(app.by("pending-attachment").nth(1)).to_have_attribute("data-status", "ready")
    second = await app.send("")
    reply = await app.wait_reply(second, timeout_s=ATTACHED_REPLY_S)
    assert reply.count("8x8 pixels") == 2, reply

    # The history keeps them: after a reload the thumbnails load again.
    await app.page.reload()
    await expect(app.messages("user")).to_have_count(2, timeout=15_000)
    thumbnails = app.page.get_by_test_id("attachment-thumbnail")
    await expect(thumbnails).to_have_count(3)
    await loaded(thumbnails.first, 64)
