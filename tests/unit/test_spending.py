"""LLM spending: model calls priced from the table (or the person's price), counted once into
UTC days and months, budgets that refuse chat when the person chose so, and what
`GET /api/usage` shows. Memory adapters and a hand-driven clock; no AWS, no OpenClaw."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from serverless_openclaw.adapters.memory import FakeClock, MemoryPorts
from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.app.spending import Spending, message_usage
from serverless_openclaw.contracts.frames import SendFrame
from serverless_openclaw.contracts.records import UserSettings
from serverless_openclaw.core.errors import BudgetReached, InvalidRequest
from serverless_openclaw.core.llm_prices import LLM_PRICES, model_ref
from serverless_openclaw.core.spend import (
    ModelCall,
    TokenUsage,
    budget_notice,
    estimate_usd,
    parse_usage,
    reported_cost,
)
from serverless_openclaw.gateway import http_api
from serverless_openclaw.settings import HandlerSettings, QuotaSettings

USER = "user-0001"
SONNET = "anthropic/claude-sonnet-5"
# What OpenClaw 2026.9.6 wrote on an assistant message of the research run (1234 prompt tokens,
# 200 of them from the cache, 56 out).
TRANSCRIPT_USAGE = {
    "input": 1034,
    "output": 56,
    "totalTokens": 1290,
    "cacheRead": 200,
    "cacheWrite": 0,
    "cost": {"input": 0.001034, "output": 0.000112, "cacheRead": 0.00002, "total": 0.001166},
}


def call(call_id: str, model: str | None = SONNET, **usage: int) -> ModelCall:
    return ModelCall(id=call_id, model=model, usage=TokenUsage(**usage))


# --- reading OpenClaw's usage ----------------------------------------------------------------
def test_transcript_and_automation_usage_read_the_same() -> None:
    camel = parse_usage(TRANSCRIPT_USAGE)
    snake = parse_usage(
        {"input_tokens": 1034, "output_tokens": 56, "total_tokens": 1290, "cache_read_tokens": 200}
    )
    assert camel == snake == TokenUsage(input=1034, output=56, cache_read=200)
    assert reported_cost(TRANSCRIPT_USAGE) == pytest.approx(0.001166)
    # A fallback path's zeroed usage is no usage; a model without a price reports no cost.
    assert parse_usage({"input": 0, "output": 0, "totalTokens": 0}) is None
    assert reported_cost({"input": 5, "cost": {"total": 0}}) is None


def test_a_call_is_priced_from_the_table() -> None:
    usage = parse_usage(TRANSCRIPT_USAGE)
    assert usage is not None
    # claude-sonnet-5: 2 / 10 / 0.2 USD per million input / output / cache-read tokens.
    expected = (1034 * 2 + 56 * 10 + 200 * 0.2) / 1e6
    assert estimate_usd(usage, SONNET) == pytest.approx(expected)


def test_a_long_prompt_switches_to_the_long_context_price() -> None:
    short = estimate_usd(TokenUsage(input=100_000, output=1000), "openai/gpt-6-astra")
    long = estimate_usd(TokenUsage(input=300_000, output=1000), "openai/gpt-6-astra")
    assert short == pytest.approx((100_000 * 10 + 1000 * 50) / 1e6)
    assert long == pytest.approx((300_000 * 20 + 1000 * 75) / 1e6)


def test_an_unknown_model_takes_openclaws_figure_or_stays_unpriced() -> None:
    usage = TokenUsage(input=1000, output=100)
    assert estimate_usd(usage, "custom/my-model") is None
    assert estimate_usd(usage, "custom/my-model", reported=0.5) == 0.5
    # Our table wins over OpenClaw's own figure for a model it lists.
    assert estimate_usd(usage, SONNET, reported=0.5) == pytest.approx((2000 + 1000) / 1e6)


def test_every_deployment_default_model_has_a_price_or_is_the_custom_endpoint() -> None:
    from serverless_openclaw.agent.openclaw.config import ModelChoice

    for provider in ("anthropic", "openai", "bedrock", "openai-compatible", "offline"):
        ref = model_ref(provider, None)
        assert ref == ModelChoice(provider).primary  # the reference the agent configures
        assert ref in LLM_PRICES or provider == "openai-compatible"
    assert (
        model_ref("anthropic", "claude-opus-5") == ModelChoice("anthropic", "claude-opus-5").primary
    )


# --- counting --------------------------------------------------------------------------------
@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 30, 23, 0, tzinfo=UTC))


@pytest.fixture
def spending(clock: FakeClock) -> Spending:
    return Spending(MemoryPorts(clock=clock).counters(), clock=clock)


def test_a_call_seen_twice_is_counted_once(spending: Spending) -> None:
    settings = UserSettings()
    first = spending.record(USER, call("msg-1", input=1_000_000), settings)
    again = spending.record(USER, call("msg-1", input=1_000_000), settings)
    assert first.new and not again.new
    today = spending.totals(USER, "daily")
    assert today.tokens == 1_000_000
    assert today.usd == pytest.approx(2.0)


def test_days_reset_at_midnight_utc_and_months_keep_adding(
    spending: Spending, clock: FakeClock
) -> None:
    settings = UserSettings()
    spending.record(USER, call("a", output=100_000), settings)  # 1.00 USD on Nov 30
    clock.advance(hours=2)  # Dec 1, 01:00 UTC
    spending.record(USER, call("b", output=50_000), settings)  # 0.50 USD
    assert spending.totals(USER, "daily").usd == pytest.approx(0.5)
    assert spending.totals(USER, "monthly").usd == pytest.approx(0.5)  # a new month too
    clock.advance(days=1)
    spending.record(USER, call("c", output=50_000), settings)
    assert spending.totals(USER, "daily").usd == pytest.approx(0.5)
    assert spending.totals(USER, "monthly").usd == pytest.approx(1.0)


def test_unpriced_tokens_are_counted_apart(spending: Spending) -> None:
    spending.record(USER, call("x", model="custom/mine", input=700, output=300), UserSettings())
    today = spending.totals(USER, "daily")
    assert (today.tokens, today.unpriced_tokens, today.micro_usd) == (1000, 1000, 0)


def test_a_persons_price_overrides_the_table(spending: Spending) -> None:
    settings = UserSettings.model_validate(
        {
            "llmPrices": {
                SONNET: {"inputUsdPerMtok": 1, "outputUsdPerMtok": 1},
                "custom/mine": {"inputUsdPerMtok": 4, "outputUsdPerMtok": 8},
            }
        }
    )
    spending.record(USER, call("s", input=1_000_000, cache_read=1_000_000), settings)
    spending.record(USER, call("m", model="custom/mine", output=1_000_000), settings)
    # A cache price left out is the input price: 1 + 1 for Sonnet, 8 for the custom model.
    assert spending.totals(USER, "daily").usd == pytest.approx(10.0)
    turn = message_usage([call("s", input=1_000_000, cache_read=1_000_000)], settings)
    assert turn is not None and turn.costUsd == pytest.approx(2.0)
    assert turn.cacheReadTokens == 1_000_000 and turn.model == SONNET


def test_price_overrides_are_validated() -> None:
    with pytest.raises(ValueError):
        UserSettings.model_validate(
            {"llmPrices": {"no-slash": {"inputUsdPerMtok": 1, "outputUsdPerMtok": 1}}}
        )
    with pytest.raises(ValueError):
        UserSettings.model_validate(
            {"llmPrices": {SONNET: {"inputUsdPerMtok": -1, "outputUsdPerMtok": 1}}}
        )
    with pytest.raises(ValueError):
        UserSettings.model_validate({"dailyBudgetUsd": -5})


# --- budgets -----------------------------------------------------------------------------------
def services_for(clock: FakeClock) -> Services:
    settings = HandlerSettings.given(quotas=QuotaSettings.given(messages_per_minute=1000))
    from tests.control_plane.conftest import TestTokens

    # The HTTP API checks the caller's ID token itself: tokens for the made-up user.
    return Services(settings, MemoryPorts(clock=clock), clock=clock, verifier=TestTokens())


def send(services: Services, text: str, message_id: str) -> Any:
    frame = SendFrame(action="send", id=message_id, text=text)
    return ops.submit_chat(services, USER, frame)


def test_a_spent_daily_budget_refuses_chat_until_midnight_utc(clock: FakeClock) -> None:
    services = services_for(clock)
    services.user_settings.update(USER, {"dailyBudgetUsd": 1.0, "wakeOnConnect": False})
    send(services, "first", "message-0001")
    services.spending.record(USER, call("turn-1", output=100_000), services.user_settings.get(USER))

    with pytest.raises(BudgetReached) as refused:
        send(services, "second", "message-0002")
    assert "daily LLM budget of $1.00" in str(refused.value)
    assert "2026-12-01 00:00 UTC" in str(refused.value)
    assert refused.value.retry_after_s == pytest.approx(3600)
    stored = services.conversations.list_messages(USER, "main").items
    assert [m.text for m in stored] == ["first"]  # the refused message is not kept

    clock.advance(hours=1, seconds=1)
    send(services, "next day", "message-0003")


def test_chat_continues_over_budget_when_the_person_chose_so(clock: FakeClock) -> None:
    services = services_for(clock)
    services.user_settings.update(USER, {"monthlyBudgetUsd": 0.5, "chatOverBudget": "continue"})
    services.spending.record(USER, call("t", output=100_000), services.user_settings.get(USER))
    assert services.spending.state(USER, services.user_settings.get(USER)).reached == "monthly"
    send(services, "still here", "message-0004")


def test_the_monthly_budget_wins_and_pauses_until_the_next_month(spending: Spending) -> None:
    settings = UserSettings(dailyBudgetUsd=1.0, monthlyBudgetUsd=1.0)
    spending.record(USER, call("t", output=200_000), settings)
    state = spending.state(USER, settings)
    assert state.reached == "monthly"
    assert state.resumes_at == datetime(2026, 12, 1, tzinfo=UTC)
    text = budget_notice(state, chat_stops=True)
    assert "this month's use is $2.00" in text and "monthly budget is $1.00" in text
    assert "paused until 2026-12-01 00:00 UTC" in text


def test_the_person_is_told_once_per_period(spending: Spending, clock: FakeClock) -> None:
    settings = UserSettings(dailyBudgetUsd=0.0)
    state = spending.state(USER, settings)  # a budget of 0 pauses everything
    assert state.reached == "daily"
    assert spending.claim_notice(USER, state)
    assert not spending.claim_notice(USER, state)
    clock.advance(hours=2)  # the next day: reached again, told again
    assert spending.claim_notice(USER, spending.state(USER, settings))


def test_no_budget_reads_no_counter(clock: FakeClock) -> None:
    class Counting:
        reads = 0

        def value(self, key: str) -> int:
            Counting.reads += 1
            return 0

    spending = Spending(Counting(), clock=clock)  # type: ignore[arg-type]
    assert spending.state(USER, UserSettings()).reached is None
    spending.check_chat(USER, UserSettings())
    assert Counting.reads == 0


# --- GET /api/usage ----------------------------------------------------------------------------
def http(services: Services, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    from tests.control_plane.conftest import body_of, http_event

    answer = http_api.handle(http_event(method, path, USER, body=body), services)
    return answer["statusCode"], body_of(answer)


def test_usage_route_shows_spend_budgets_and_prices(clock: FakeClock) -> None:
    services = services_for(clock)
    status, _ = http(
        services,
        "PUT",
        "/api/settings",
        {
            "dailyBudgetUsd": 5,
            "llmPrices": {"custom/mine": {"inputUsdPerMtok": 1, "outputUsdPerMtok": 2}},
        },
    )
    assert status == 200
    settings = services.user_settings.get(USER)
    services.spending.record(USER, call("a", output=100_000), settings)
    services.spending.record(USER, call("b", model="custom/other", input=10), settings)

    status, usage = http(services, "GET", "/api/usage")
    assert status == 200
    assert usage["today"]["period"] == "2026-11-30"
    assert usage["today"]["costUsd"] == pytest.approx(1.0)
    assert usage["today"]["tokens"] == 100_010
    assert usage["today"]["unpricedTokens"] == 10
    assert usage["today"]["budgetUsd"] == 5
    assert usage["thisMonth"]["period"] == "2026-11"
    assert usage["budgetReached"] is None
    prices = {row["model"]: row for row in usage["prices"]}
    assert prices[SONNET]["inputUsdPerMtok"] == 2 and not prices[SONNET]["overridden"]
    assert prices["custom/mine"]["overridden"] and prices["custom/mine"]["outputUsdPerMtok"] == 2


def test_bad_price_settings_are_refused_with_the_field(clock: FakeClock) -> None:
    services = services_for(clock)
    status, body = http(
        services, "PUT", "/api/settings", {"llmPrices": {SONNET: {"inputUsdPerMtok": "x"}}}
    )
    assert status == 400
    assert "llmPrices" in body["error"]["message"]
    with pytest.raises(InvalidRequest):
        services.user_settings.update(USER, {"monthlyBudgetUsd": 10**9})
    assert json.dumps(services.user_settings.get(USER).llmPrices) == "{}"
