"""The server goes away under an open page (the dev command is restarted): the page says so,
keeps what the person sends meanwhile, reconnects by itself and gets it answered."""

from __future__ import annotations

import asyncio

import pytest
from playwright.async_api import expect

from .conftest import COLD_START_S, dumps, history

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

# What Chromium itself logs while nothing listens on the port; nothing else may appear.
OUTAGE_ERRORS = (
    r"^WebSocket connection to 'ws://127\.0\.0\.1:\d+/ws\?token=.*' failed",
    r"net::ERR_CONNECTION_REFUSED",
)


async def test_page_reconnects_after_a_restart_and_delivers_what_was_sent_meanwhile(
    web_build, fresh_dev_stack, open_app
) -> None:  # type: ignore[no-untyped-def]
    stack = fresh_dev_stack
    user = stack.create_user(email="ray@example.com")
    user.settings(wakeOnConnect=False)
    app = await open_app(stack)
    await app.sign_in(user)
    await app.wait_agent("idle", timeout_s=30)
    await expect(app.banner).to_have_attribute("data-connection", "open")

    text = "sent while the server was down"
    with app.console.allow(*OUTAGE_ERRORS):
        await asyncio.to_thread(stack.stop)
        await expect(app.banner).to_have_attribute("data-connection", "waiting", timeout=30_000)
        await expect(app.banner).to_contain_text("Connection lost. Reconnecting")
        await expect(app.banner.get_by_role("button", name="Retry now")).to_be_visible()

        message = await app.send(text)
        mine = app.messages("user").last
        await expect(mine).to_have_attribute("data-status", "queued")
        await expect(mine.locator(".message-note")).to_have_text("sending…")
        await app.screenshot("reconnecting")

        await asyncio.to_thread(stack.start)
        # Reconnects on its own (backoff, no click), then the queued message goes out.
        await expect(app.banner).to_have_attribute("data-connection", "open", timeout=60_000)
        await expect(mine).to_have_attribute("data-status", "sent", timeout=15_000)

    reply = await app.wait_reply(message, timeout_s=COLD_START_S)
    assert reply.endswith(text), reply
    log = await app.banner_log()
    connection = [e["connection"] for e in log]
    assert "waiting" in connection and connection[-1] == "open", dumps(log)
    stored = await asyncio.to_thread(history, user)
    answer = f"[offline model] You said: {text}"
    assert stored == [("user", text, False), ("assistant", answer, False)]

    await app.page.reload()
    await expect(app.messages()).to_have_count(2, timeout=15_000)
    with user.http() as client:
        client.post("/api/agent/stop")
