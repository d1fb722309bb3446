"""LLM spending through the whole local product: the offline model reports usage, the real
OpenClaw records it in its transcript, the agent prices it with the person's price and
counts it; each reply shows what it cost, the Agent page's figures add up, and the daily
budget — once spent — pauses automations, tells the person and refuses chat."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

OFFLINE = "offline/offline-echo"


async def test_spending_is_shown_counted_and_a_spent_budget_stops_chat(dev_stack) -> None:  # type: ignore[no-untyped-def]
    tag = f"pricey-{uuid.uuid4().hex[:8]}"
    # 610 tokens a turn at 1,000 USD per million: 0.61 USD; the second turn passes $1.00.
    dev_stack.offline_model().script(
        [{"match": tag, "prompt_tokens": 600, "completion_tokens": 10, "chunk_chars": 50}],
        default_delay_ms=15.0,
        default_chunk_chars=12,
    )
    user = dev_stack.create_user(idle_minutes=2)
    chat = 9000 + uuid.uuid4().int % 1000
    user.pair_telegram(chat)
    user.settings(
        wakeOnConnect=False,
        dailyBudgetUsd=1.0,
        chatOverBudget="stop",
        llmPrices={OFFLINE: {"inputUsdPerMtok": 1000, "outputUsdPerMtok": 1000}},
    )
    async with user.ws() as ws:
        first = uuid.uuid4().hex
        await ws.send({"action": "send", "id": first, "text": f"{tag} first"})
        end = await ws.reply_to(first)
        usage = end["usage"]
        assert isinstance(usage, dict), end
        assert (usage["inputTokens"], usage["outputTokens"]) == (600, 10)
        assert usage["model"] == OFFLINE
        assert usage["costUsd"] == pytest.approx(0.61)

        with user.http() as http:
            spend = http.get("/api/usage").json()
        assert spend["today"]["costUsd"] == pytest.approx(0.61)
        assert spend["today"]["tokens"] == 610
        assert spend["budgetReached"] is None

        second = uuid.uuid4().hex
        await ws.send({"action": "send", "id": second, "text": f"{tag} second"})
        await ws.reply_to(second)
        # Past the budget: the person is told, once, as a message of its own.
        notice_start = await ws.wait_for(
            lambda f: f.get("type") == "stream_start" and str(f.get("id", "")).startswith("budget-")
        )
        notice = await ws.wait_for(
            lambda f: f.get("type") == "stream_end" and f.get("id") == notice_start["id"]
        )
        assert "Spending limit reached" in str(notice["text"])
        assert "$1.22" in str(notice["text"]) and "daily budget is $1.00" in str(notice["text"])

        third = uuid.uuid4().hex
        await ws.send({"action": "send", "id": third, "text": f"{tag} third"})
        refused = await ws.wait_for(lambda f: f.get("type") == "error" and f.get("id") == third)
        assert refused["code"] == "budget_reached"
        assert "daily LLM budget of $1.00 is used up" in str(refused["message"])

    # The notice reached the linked Telegram chat too; a message from there is refused.
    assert any("Spending limit reached" in text for text in user.telegram_texts(chat))
    base = str(dev_stack.info["telegram_api_base"])
    httpx.post(f"{base}/_fake/updates", json={"chatId": chat, "text": f"{tag} from telegram"})
    httpx.post(f"{base}/_fake/deliver", timeout=60).raise_for_status()
    assert "Not sent: Your daily LLM budget of $1.00 is used up" in user.telegram_texts(chat)[-1]

    with user.http() as http:
        spend = http.get("/api/usage").json()
        stored = http.get("/api/conversations/main/messages").json()["items"]
    assert spend["budgetReached"] == "daily"
    assert spend["today"]["costUsd"] == pytest.approx(1.22)
    assert spend["pausedUntil"] == spend["today"]["resetsAt"]
    replies = [m for m in stored if m["role"] == "assistant" and m.get("inReplyTo")]
    assert [m["usage"]["costUsd"] for m in replies] == [pytest.approx(0.61)] * 2
    refused_texts = ("third", "from telegram")
    assert not any(m["text"].endswith(refused_texts) for m in stored), "refused: not kept"
    # OpenClaw itself was told: its config pauses automations and the heartbeat.
    work = dev_stack.agent_work_dir(user)
    assert work is not None
    state_dir = json.loads((work / "agent.json").read_text())["stateDir"]
    config = json.loads((Path(state_dir) / "openclaw.json").read_text())
    assert config["cron"] == {"enabled": False}
    assert config["agents"]["defaults"]["heartbeat"]["every"] == "0m"
