"""One conversation, the same on every screen: two tabs and a Telegram chat of one person, a
message the agent cannot take, three questions back to back, a reply cut off by the network
(a TCP proxy between the page and the stack, cut on purpose), and a conversation deleted while
its reply is still being written.

The tests share `chat_user` (its agent cold-starts once per worker, with the e2e tests); each
signs in on pages of its own and, except the Telegram one (Telegram talks to the main
conversation), talks in a new conversation.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Route, expect
from tests.faults.conftest import SwitchableProxy

from .conftest import COLD_START_S, App, OpenApp
from .test_conversation import long_reply, new_conversation, ready, streaming

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

OUTAGE_ERRORS = (
    r"^WebSocket connection to 'ws://127\.0\.0\.1:\d+/ws\?token=.*' failed",
    r"net::ERR_CONNECTION_(REFUSED|RESET|CLOSED)",
)
"""What Chromium itself logs while the proxy is cut; nothing else may appear."""


def tag() -> str:
    return uuid.uuid4().hex[:8]


async def sequence(app: App) -> list[tuple[str, str]]:
    """(role, id) of every message on screen, top to bottom (a reply has its question's id)."""
    pairs = await app.page.eval_on_selector_all(
        '[data-testid="message"]', "els => els.map((e) => [e.dataset.role, e.dataset.id])"
    )
    return [(str(role), str(mid)) for role, mid in pairs]


def question(app: App, text: str) -> Any:
    return app.page.locator('[data-testid="message"][data-role="user"]', has_text=text)


def telegram_say(stack: Any, chat: int, text: str) -> None:
    base = str(stack.info["telegram_api_base"])
    httpx.post(f"{base}/_fake/updates", json={"chatId": chat, "text": text}, timeout=10)
    httpx.post(f"{base}/_fake/deliver", timeout=60).raise_for_status()


def stored(user: Any, conversation: str) -> list[tuple[str, str]]:
    """(role, question id) of the stored history, in the order the API lists it."""
    return [
        (str(m["role"]), str(m.get("inReplyTo") or m["id"])) for m in user.messages(conversation)
    ]


@pytest.fixture
def proxy(stack: Any) -> Iterator[SwitchableProxy]:
    """A TCP path from the page's WebSocket to the stack that the test can cut."""
    path = SwitchableProxy(int(stack.url.rsplit(":", 1)[1]))
    path.up()
    yield path
    path.close()


async def through(app: App, proxy: SwitchableProxy) -> None:
    """The page's WebSocket goes through `proxy` (config.json names its address)."""

    async def rewrite(route: Route) -> None:
        response = await route.fetch()
        config = await response.json()
        config["wsUrl"] = f"ws://127.0.0.1:{proxy.port}/ws"
        await route.fulfill(response=response, json=config)

    await app.page.route("**/config.json", rewrite)


async def test_two_tabs_and_a_telegram_chat_show_one_story(
    stack: Any, chat_user: Any, open_app: OpenApp
) -> None:
    one, two = await open_app(stack), await open_app(stack)
    await one.sign_in(chat_user)
    await two.sign_in(chat_user)
    await one.wait_agent("running", timeout_s=COLD_START_S)
    chat = 9_100_000 + uuid.uuid4().int % 100_000
    await asyncio.to_thread(chat_user.pair_telegram, chat)

    # A question from the first tab shows in the second, then its reply right under it.
    text = f"from the first tab {tag()}"
    asked = await one.send(text)
    await expect(question(two, text)).to_have_count(1, timeout=30_000)
    await two.wait_reply(asked)
    await one.wait_reply(asked)

    # Written in Telegram: both tabs show the person's words (marked so), then the reply.
    phone = f"from my phone {tag()}"
    await asyncio.to_thread(telegram_say, stack, chat, phone)
    for app in (one, two):
        mine = question(app, phone)
        await expect(mine).to_have_count(1, timeout=30_000)
        await expect(mine.locator(".badge")).to_have_text("via Telegram")
        await app.wait_reply(str(await mine.get_attribute("data-id")))
    tg_id = str(await question(two, phone).get_attribute("data-id"))
    await two.screenshot("one-story-two-tabs")

    for app in (one, two):
        shown = await sequence(app)
        for qid in (asked, tg_id):
            at = shown.index(("user", qid))
            assert shown[at + 1 : at + 2] == [("assistant", qid)], shown
    # After a reload: the same story, nothing twice.
    await two.page.reload()
    await expect(question(two, phone)).to_have_count(1, timeout=15_000)
    await expect(question(two, text)).to_have_count(1)
    shown = await sequence(two)
    assert len(shown) == len(set(shown)), shown
    for qid in (asked, tg_id):
        at = shown.index(("user", qid))
        assert shown[at + 1 : at + 2] == [("assistant", qid)], shown


async def test_a_message_with_a_nul_character_is_refused_with_a_reason_at_once(
    stack: Any, chat_user: Any, open_app: OpenApp
) -> None:
    app = await open_app(stack)
    await app.sign_in(chat_user)
    conversation = await new_conversation(app)
    await app.input.fill("pasted\u0000text")
    await app.by("send-button").click()
    mine = app.messages("user").last
    await expect(mine).to_have_attribute("data-status", "failed", timeout=15_000)
    await expect(mine.locator(".message-error")).to_contain_text("NUL character")
    await expect(mine.get_by_test_id("retry-button")).to_have_count(0)  # the same text would fail
    await expect(app.by("stop-button")).to_have_count(0)
    await expect(app.messages("assistant")).to_have_count(0)
    assert await asyncio.to_thread(chat_user.messages, conversation) == []


async def test_three_questions_back_to_back_stay_in_pairs_after_a_reload(
    stack: Any, chat_user: Any, open_app: OpenApp
) -> None:
    app = await open_app(stack)
    conversation = await ready(app, chat_user)
    ids = []
    for n in range(3):  # no waiting for replies in between
        ids.append(await app.send(f"question {n + 1} {tag()}"))
    for message in ids:
        await app.wait_reply(message)
    pairs = [pair for qid in ids for pair in (("user", qid), ("assistant", qid))]
    assert await sequence(app) == pairs
    assert await asyncio.to_thread(stored, chat_user, conversation) == pairs
    await app.page.reload()
    await expect(app.messages()).to_have_count(6, timeout=15_000)
    assert await sequence(app) == pairs


async def test_a_reply_finished_while_the_network_was_cut_shows_once_and_nothing_keeps_running(
    stack: Any, chat_user: Any, open_app: OpenApp, proxy: SwitchableProxy
) -> None:
    length = 3000  # ~8 s of streaming
    stack.offline_model().script([long_reply("through the cut", length=length)])
    app = await open_app(stack)
    await through(app, proxy)
    conversation = await ready(app, chat_user)
    message = await app.send("Keep talking through the cut")
    await streaming(app, message, 80)

    with app.console.allow(*OUTAGE_ERRORS):
        proxy.down()  # open connections cut, new ones refused
        await expect(app.banner).to_have_attribute("data-connection", "waiting", timeout=15_000)
        # The reply ends while the page cannot hear it.
        deadline = time.monotonic() + 120
        while ("assistant", message) not in await asyncio.to_thread(
            stored, chat_user, conversation
        ):
            assert time.monotonic() < deadline, "the reply was not stored"
            await asyncio.sleep(0.5)
        proxy.up()
        await expect(app.banner).to_have_attribute("data-connection", "open", timeout=60_000)

    # One bubble per stored message, the reply complete, nothing left running.
    reply = app.reply_to(message)
    await expect(reply).to_have_attribute("data-status", "done", timeout=15_000)
    await expect(reply).to_have_count(1)
    text = next(m for m in chat_user.messages(conversation) if m["role"] == "assistant")["text"]
    assert (await reply.locator(".message-body").inner_text()).strip() == str(text).strip()
    assert await sequence(app) == [("user", message), ("assistant", message)]
    await expect(app.by("stop-button")).to_have_count(0)
    await expect(app.page.locator(".cursor")).to_have_count(0)
    await expect(app.page.locator('[data-status="streaming"]')).to_have_count(0)


async def test_a_conversation_deleted_while_its_reply_streams_does_not_come_back(
    stack: Any, chat_user: Any, open_app: OpenApp
) -> None:
    stack.offline_model().script([long_reply("about to vanish", length=3000)])
    app = await open_app(stack)
    conversation = await ready(app, chat_user)
    message = await app.send("Tell me something about to vanish")
    await streaming(app, message, 80)

    item = app.page.locator(f'[data-testid="conversation-item"][data-id="{conversation}"]')
    await item.get_by_test_id("delete-conversation").click()
    await item.get_by_test_id("confirm-delete-conversation").click()
    await expect(item).to_have_count(0)
    await expect(app.page).to_have_url(re.compile(r"#/c/main$"))

    # The agent finishes that reply, then answers the next question (its turns run in order).
    after = await app.send(f"still here? {tag()}")
    await app.wait_reply(after)
    await expect(item).to_have_count(0)
    await expect(app.reply_to(message)).to_have_count(0)
    with chat_user.http() as http:
        assert http.get(f"/api/conversations/{conversation}").status_code == 404
    await app.page.reload()
    await expect(app.input).to_be_visible(timeout=15_000)
    await expect(app.by("conversation-item").first).to_be_visible()
    await expect(item).to_have_count(0)
