"""Chatting with an agent that is awake: keyboard only, stopping a long reply, a socket that dies
in the middle of a reply, and a phone-sized screen.

These tests share one user (`chat_user`, also the e2e tests' person) so that its agent
cold-starts once per worker; each test signs in on its own page and talks in a new
conversation of its own.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect

from .conftest import COLD_START_S, PHONE, App, dumps, history

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

STORY = "[offline model] Once upon a time there was a very long reply."


def long_reply(match: str, *, length: int, chunk_chars: int = 20, delay_ms: float = 40) -> dict:  # type: ignore[type-arg]
    """A scripted reply that streams for length / chunk_chars * delay_ms milliseconds."""
    return {
        "match": match,
        "reply": STORY,
        "repeat_to": length,
        "chunk_chars": chunk_chars,
        "delay_ms": delay_ms,
    }


def full_story(length: int) -> str:
    text = (STORY + " ") * (length // (len(STORY) + 1) + 1)
    return text[:length]


async def new_conversation(app: App, *, phone: bool = False) -> str:
    if phone:
        await app.page.locator(".sidebar-toggle").click()
    before = app.page.url
    await app.by("new-conversation").click()
    await expect(app.page).not_to_have_url(before)
    await expect(app.page.get_by_text("No messages yet. Say hello.")).to_be_visible()
    match = re.search(r"#/c/([A-Za-z0-9_-]+)$", app.page.url)
    assert match, app.page.url
    return match.group(1)


async def ready(app: App, user) -> str:  # type: ignore[no-untyped-def]
    """Signed in, in a new conversation, with the agent awake (wake on open is on)."""
    await app.sign_in(user)
    conversation = await new_conversation(app)
    await app.wait_agent("running", timeout_s=COLD_START_S)
    return conversation


async def streaming(app: App, message: str, at_least: int) -> None:
    """Wait until the reply to `message` is streaming with at least that many characters."""
    await app.page.wait_for_function(
        """([id, n]) => window.__soc.replies.some(
             (r) => r.id === id && r.status === "streaming" && r.text.length >= n)""",
        arg=[message, at_least],
        timeout=60_000,
    )


async def test_keyboard_only_enter_sends_shift_enter_breaks_escape_stops(
    stack, chat_user, open_app
) -> None:  # type: ignore[no-untyped-def]
    stack.offline_model().script([long_reply("long story", length=6000)])
    app = await open_app(stack)
    conversation = await ready(app, chat_user)
    page = app.page

    # Tab from the top of the page reaches the message box.
    await page.evaluate("() => document.activeElement?.blur()")
    for _ in range(40):
        if await page.evaluate("() => document.activeElement?.id") == "message-input":
            break
        await page.keyboard.press("Tab")
    else:
        raise AssertionError("Tab never reached the message box")

    before = await app.messages("user").count()
    await page.keyboard.type("first line")
    await page.keyboard.press("Shift+Enter")
    await page.keyboard.type("second line")
    await page.keyboard.press("Enter")
    first = await app.sent_id(before)
    await expect(app.input).to_have_value("")
    await expect(app.input).to_be_focused()
    text = await app.wait_reply(first)
    assert text.endswith("first line second line"), text  # Markdown: a soft line break
    shown = await app.messages("user").nth(before).locator(".message-body").inner_text()
    assert shown == "first line\nsecond line"

    # Escape stops a reply that is still streaming.
    await page.keyboard.type("tell me a long story")
    await page.keyboard.press("Enter")
    story = await app.sent_id(before + 1)
    await streaming(app, story, 100)
    await page.keyboard.press("Escape")
    await expect(app.reply_to(story)).to_have_attribute("data-status", "aborted", timeout=30_000)
    await expect(app.by("stop-button")).to_have_count(0)
    shown = await app.reply_to(story).locator(".message-body").inner_text()
    assert 0 < len(shown) < 6000
    stored = await asyncio.to_thread(history, chat_user, conversation)
    assert stored[0] == ("user", "first line\nsecond line", False)
    assert [(role, aborted) for role, _, aborted in stored[2:]] == [
        ("user", False),
        ("assistant", True),
    ]


async def test_stop_button_aborts_a_long_reply(stack, chat_user, open_app) -> None:  # type: ignore[no-untyped-def]
    stack.offline_model().script([long_reply("long story", length=6000)])
    app = await open_app(stack)
    conversation = await ready(app, chat_user)

    story = await app.send("Tell me a long story, please")
    await streaming(app, story, 100)
    await expect(app.by("stop-button")).to_be_visible()
    await app.by("stop-button").click()
    reply = app.reply_to(story)
    await expect(reply).to_have_attribute("data-status", "aborted", timeout=30_000)
    await expect(reply.locator(".message-note")).to_have_text("stopped")
    await expect(app.by("stop-button")).to_have_count(0)

    # The agent is free again, and the stored reply says it was stopped.
    after = await app.send("Are you still there?")
    assert (await app.wait_reply(after)).endswith("Are you still there?")
    stored = await asyncio.to_thread(history, chat_user, conversation)
    assert [(role, aborted) for role, _, aborted in stored] == [
        ("user", False),
        ("assistant", True),
        ("user", False),
        ("assistant", False),
    ]
    assert 0 < len(stored[1][1]) < 6000

    await app.page.reload()
    await expect(app.messages()).to_have_count(4, timeout=15_000)
    await expect(app.messages("assistant").first).to_have_attribute("data-status", "aborted")


async def test_socket_killed_mid_reply_reconnects_and_delivers(stack, chat_user, open_app) -> None:  # type: ignore[no-untyped-def]
    length = 2400  # ~6 s of streaming
    stack.offline_model().script([long_reply("through the outage", length=length)])
    app = await open_app(stack)
    conversation = await ready(app, chat_user)

    message = await app.send("Keep talking through the outage")
    await streaming(app, message, 60)
    assert await app.kill_sockets() == 1
    await expect(app.banner).to_have_attribute("data-connection", "waiting")
    await expect(app.banner).to_contain_text("Connection lost")
    await expect(app.banner).to_have_attribute("data-connection", "open", timeout=15_000)

    # The rest of the reply reaches the new socket; the whole reply ends up on screen, once.
    text = await app.wait_reply(message)
    assert text.strip() == full_story(length).strip(), text[-200:]
    await expect(app.reply_to(message)).to_have_count(1)
    await expect(app.reply_to(message)).to_have_attribute("data-status", "done")
    log = await app.banner_log()
    states = [e["connection"] for e in log]
    assert states.index("waiting") < len(states) - 1 - states[::-1].index("open"), dumps(log)
    assert await app.page.evaluate("() => window.__soc.sockets.length") >= 2

    # And the new socket carries the next message as usual.
    after = await app.send("Did that arrive?")
    assert (await app.wait_reply(after)).endswith("Did that arrive?")
    stored = await asyncio.to_thread(history, chat_user, conversation)
    assert [role for role, _, _ in stored] == ["user", "assistant", "user", "assistant"]


async def test_phone_sized_screen(stack, chat_user, open_app) -> None:  # type: ignore[no-untyped-def]
    app = await open_app(stack, phone=True)
    await app.sign_in(chat_user)
    page = app.page
    conversation = await new_conversation(app, phone=True)
    await app.wait_agent("running", timeout_s=COLD_START_S)

    message = await app.send("Hello from my phone")
    assert (await app.wait_reply(message)).endswith("Hello from my phone")
    await app.screenshot("phone-chat")

    # Nothing is wider than the screen, and the message box is on it.
    assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    box = await app.input.bounding_box()
    assert box and box["y"] + box["height"] <= PHONE["height"] and box["width"] > 200

    # The conversation list is a drawer: the menu button opens it, Escape closes it.
    toggle = page.locator(".sidebar-toggle")
    await expect(toggle).to_be_visible()
    await expect(app.by("conversation-item").first).not_to_be_in_viewport()
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    current = page.locator(f'[data-testid="conversation-item"][data-id="{conversation}"]')
    await expect(current).to_be_in_viewport()
    await expect(current).to_contain_text("Hello from my phone")
    await app.screenshot("phone-conversations")
    await page.keyboard.press("Escape")
    await expect(toggle).to_have_attribute("aria-expanded", "false")
    await expect(toggle).to_be_focused()
