"""The screens around the chat: settings, Telegram pairing, and the agent panel."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
from playwright.async_api import expect

from .conftest import COLD_START_S, App

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


async def tab(app: App, name: str) -> None:
    await app.page.get_by_role("navigation", name="Sections").get_by_role("link", name=name).click()
    await expect(app.page.get_by_role("heading", name=name, level=2)).to_be_visible()


async def test_settings_are_saved_and_come_back_after_a_reload(stack, make_user, open_app) -> None:  # type: ignore[no-untyped-def]
    user = make_user("kim", wakeOnConnect=False)
    app = await open_app(stack)
    await app.sign_in(user)
    await tab(app, "Settings")
    await expect(app.by("settings-idle-timeout")).to_have_value("15")
    await app.screenshot("settings")

    await app.by("settings-model-provider").select_option("offline")
    await app.by("settings-idle-timeout").fill("45")
    await app.by("settings-heartbeat").select_option("active-hours")
    await app.by("settings-active-hours-start").fill("9")
    await app.by("settings-active-hours-end").fill("18")
    await app.by("settings-timezone").fill("Europe/Berlin")
    await app.by("settings-scheduled-wakes").select_option("none")
    await app.by("settings-save").click()
    await expect(app.by("settings-status")).to_have_text("Saved.")

    await app.page.reload()
    await expect(app.page).to_have_url(re.compile("#/settings$"))
    await expect(app.by("settings-idle-timeout")).to_have_value("45")
    await expect(app.by("settings-model-provider")).to_have_value("offline")
    await expect(app.by("settings-heartbeat")).to_have_value("active-hours")
    await expect(app.by("settings-active-hours-start")).to_have_value("9")
    await expect(app.by("settings-active-hours-end")).to_have_value("18")
    await expect(app.by("settings-timezone")).to_have_value("Europe/Berlin")
    await expect(app.by("settings-scheduled-wakes")).to_have_value("none")
    await expect(app.by("settings-wake-on-connect")).not_to_be_checked()
    app.console.check("the reloaded settings")

    stored = await asyncio.to_thread(user.settings)
    assert {k: stored[k] for k in ("modelProvider", "idleTimeoutMinutes", "timezone")} == {
        "modelProvider": "offline",
        "idleTimeoutMinutes": 45,
        "timezone": "Europe/Berlin",
    }


async def test_telegram_pairing_code_links_a_chat_and_unlinks(stack, make_user, open_app) -> None:  # type: ignore[no-untyped-def]
    user = make_user("lee", wakeOnConnect=False)
    app = await open_app(stack)
    await app.sign_in(user)
    await tab(app, "Telegram")
    await expect(app.by("telegram-pair")).to_have_text("Get a pairing code")
    await app.by("telegram-pair").click()
    code_text = await app.by("pairing-code").inner_text()
    assert re.fullmatch(r"/pair \S{4,}", code_text), code_text
    await expect(app.by("pairing-countdown")).to_have_text(re.compile(r"^(10:00|9:[0-5]\d)$"))
    await app.screenshot("telegram-pairing")

    # The person sends the code to the bot (the fake Telegram delivers it to our webhook).
    telegram = str(stack.info["telegram_api_base"])
    async with httpx.AsyncClient(base_url=telegram, timeout=30) as bot:
        update = {"chatId": 424242, "text": code_text, "username": "lee_on_telegram"}
        (await bot.post("/_fake/updates", json=update)).raise_for_status()
        delivered = (await bot.post("/_fake/deliver")).json()["statuses"]
        assert delivered == [200]
        said = (await bot.get("/_fake/messages", params={"chatId": "424242"})).json()
        assert any(m["text"].startswith("Paired!") for m in said), said

    # The panel notices on its own (it polls while a code is shown).
    await expect(app.by("telegram-chat")).to_have_text("@lee_on_telegram", timeout=15_000)
    await expect(app.by("pairing-code")).to_have_count(0)
    await app.screenshot("telegram-linked")

    await app.by("telegram-unlink").click()
    await expect(app.by("telegram-pair")).to_be_visible()
    with user.http() as client:
        assert client.get("/api/telegram").json() is None


async def test_agent_panel_wakes_backs_up_and_stops(stack, chat_user, open_app) -> None:  # type: ignore[no-untyped-def]
    app = await open_app(stack)
    await app.sign_in(chat_user)
    await tab(app, "Agent")
    state = app.by("agent-state")
    await expect(state).to_have_attribute("data-state", re.compile("idle|starting|running"))
    if await state.get_attribute("data-state") == "idle":
        await app.by("agent-start").click()
    await expect(state).to_have_attribute("data-state", "running", timeout=COLD_START_S * 1000)
    await expect(app.by("agent-uptime")).to_have_text(re.compile(r"\d+ ?(s|min|h)"))

    # Back up now: the panel shows the new backup once the agent has made it.
    before = await app.by("agent-last-backup").inner_text()
    await app.by("agent-backup").click()
    await expect(app.page.get_by_text("Backup requested")).to_be_visible()
    await expect(app.by("agent-last-backup")).to_have_text(
        re.compile(r"just now · [\d.]+ [kM]?B"), timeout=30_000
    )
    if before.startswith("just now"):
        row = await asyncio.to_thread(stack.task_row, chat_user)
        assert row.get("lastBackupAt"), row
    await app.screenshot("agent-panel")

    # Stop: the panel and the banner both say it is asleep; "Wake up" is offered again.
    await app.by("agent-stop").click()
    await expect(state).to_have_attribute("data-state", "idle", timeout=120_000)
    await expect(app.banner).to_have_attribute("data-agent", "idle", timeout=30_000)
    await expect(app.by("agent-start")).to_be_visible()
    await expect(app.by("agent-backup")).to_be_disabled()


async def test_a_reply_shows_its_cost_and_the_agent_page_adds_it_up(
    stack, make_user, open_app
) -> None:  # type: ignore[no-untyped-def]
    # 610 tokens at the person's price of 1,000 USD per million (the offline model is free).
    user = make_user(
        "lee",
        wakeOnConnect=False,
        dailyBudgetUsd=5,
        llmPrices={"offline/offline-echo": {"inputUsdPerMtok": 1000, "outputUsdPerMtok": 1000}},
    )
    stack.offline_model().script(
        [{"match": "how much was that", "prompt_tokens": 600, "completion_tokens": 10}]
    )
    app = await open_app(stack)
    await app.sign_in(user)
    await app.send("how much was that?")
    usage = app.page.get_by_test_id("message-usage")
    await expect(usage).to_have_text("610 tokens · ~$0.61", timeout=COLD_START_S * 1000)
    await expect(usage).to_have_attribute("title", "600 in, 10 out · offline/offline-echo")
    await app.screenshot("reply-usage")

    await tab(app, "Agent")
    await expect(app.by("spend-today-cost")).to_have_text("$0.61")
    await expect(app.by("spend-today")).to_contain_text("of $5.00 · 610 tokens")
    meter = app.page.get_by_role("meter", name="Today (UTC) against the budget")
    await expect(meter).to_have_attribute("aria-valuenow", "12")
    await app.screenshot("agent-spending")
    app.console.check("the spending figures")
