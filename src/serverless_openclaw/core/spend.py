"""LLM spending: tokens per model call, their estimated cost, day and month totals, budgets.

Pure logic; the counters live in the `CounterStore` (app/spending.py writes them).

Where the figures come from (OpenClaw 2026.9.6, see docs/cost.md): every assistant message in
a session transcript (`chat.history`) carries `usage {input, output, cacheRead, cacheWrite,
totalTokens, cost{...,total}}` for the model call that wrote it, plus `provider` and `model`;
`input` excludes cache reads. Heartbeat turns land in the main session's transcript the same
way. Isolated automation runs report snake_case usage without cost on their `cron` events.

Periods are UTC days and months, like the task-hours quota: the same for every Lambda and
task whatever the person's time zone, so a budget resets at 00:00 UTC.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Literal

from serverless_openclaw.core.llm_prices import MILLION, Rates, rates_for

MICRO: Final = 1_000_000
"""Costs are counted in micro-USD: the counters are integers."""
DAY_COUNTER_TTL: Final = timedelta(days=40)
MONTH_COUNTER_TTL: Final = timedelta(days=400)
SEEN_TTL: Final = timedelta(days=40)
"""How long a metered model call is remembered (so it is never counted twice)."""

Period = Literal["daily", "monthly"]


@dataclass(frozen=True)
class TokenUsage:
    input: int = 0
    """Prompt tokens that were neither read from nor written to the provider's cache."""
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_read + self.cache_write

    @property
    def prompt(self) -> int:
        """The call's whole prompt (what tiered prices are decided by)."""
        return self.input + self.cache_read + self.cache_write

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            input=self.input + other.input,
            output=self.output + other.output,
            cache_read=self.cache_read + other.cache_read,
            cache_write=self.cache_write + other.cache_write,
        )


def _count(raw: Mapping[str, Any], *names: str) -> int:
    for name in names:
        value = raw.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return int(value)
    return 0


def parse_usage(raw: object) -> TokenUsage | None:
    """OpenClaw's usage object: camelCase in transcripts (`input`, `cacheRead`...), snake_case
    on automation runs (`input_tokens`, `cache_read_tokens`...). None when there is none."""
    if not isinstance(raw, Mapping):
        return None
    usage = TokenUsage(
        input=_count(raw, "input", "input_tokens"),
        output=_count(raw, "output", "output_tokens"),
        cache_read=_count(raw, "cacheRead", "cache_read_tokens"),
        cache_write=_count(raw, "cacheWrite", "cache_write_tokens"),
    )
    return usage if usage.total else None


def reported_cost(raw: object) -> float | None:
    """OpenClaw's own figure (`usage.cost.total`, from the prices configured for the model);
    None when absent or zero (a model it has no price for)."""
    if not isinstance(raw, Mapping):
        return None
    cost = raw.get("cost")
    total = cost.get("total") if isinstance(cost, Mapping) else None
    if isinstance(total, int | float) and not isinstance(total, bool) and total > 0:
        return float(total)
    return None


@dataclass(frozen=True)
class ModelCall:
    """One model call as the transcript reports it (one assistant message)."""

    id: str
    """OpenClaw's message id (or an automation run's id): counted once, whoever sees it."""
    model: str | None
    """`<provider>/<model>`, OpenClaw's model reference."""
    usage: TokenUsage
    reported_cost_usd: float | None = None
    at: datetime | None = None


def model_ref_of(provider: object, model: object) -> str | None:
    if isinstance(provider, str) and provider and isinstance(model, str) and model:
        return f"{provider}/{model}"
    if isinstance(model, str) and "/" in model:
        return model
    return None


def estimate_usd(
    usage: TokenUsage,
    model: str | None,
    overrides: Mapping[str, Rates] | None = None,
    *,
    reported: float | None = None,
) -> float | None:
    """The call's cost from our table (or the person's override); for a model neither knows,
    OpenClaw's own figure if it had a price; else None (unpriced)."""
    rates = rates_for(model, usage.prompt, overrides) if model else None
    if rates is None:
        return reported
    return (
        usage.input * rates.input
        + usage.output * rates.output
        + usage.cache_read * rates.cache_read
        + usage.cache_write * rates.cache_write
    ) / MILLION


def to_micro(usd: float) -> int:
    return round(usd * MICRO)


# --- periods -------------------------------------------------------------------------------
def day_of(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m-%d")


def month_of(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y-%m")


def next_day(now: datetime) -> datetime:
    utc = now.astimezone(UTC)
    return (utc + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def next_month(now: datetime) -> datetime:
    utc = now.astimezone(UTC)
    first = utc.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return (first + timedelta(days=32)).replace(day=1)


Measure = Literal["usd", "tokens", "unpriced"]
"""What a counter holds: micro-USD, all tokens, tokens of calls without a price."""


def counter_key(user_id: str, period: Period, now: datetime, measure: Measure) -> str:
    label = f"d{day_of(now)}" if period == "daily" else f"m{month_of(now)}"
    return f"{user_id}#spend#{label}#{measure}"


def counter_expiry(period: Period, now: datetime) -> datetime:
    if period == "daily":
        return next_day(now) + DAY_COUNTER_TTL
    return next_month(now) + MONTH_COUNTER_TTL


def seen_key(user_id: str, call_id: str) -> str:
    return f"{user_id}#spend#seen#{call_id[:200]}"


def notice_key(user_id: str, period: Period, now: datetime) -> str:
    """Marks that the person was told their budget of this period was reached."""
    label = f"d{day_of(now)}" if period == "daily" else f"m{month_of(now)}"
    return f"{user_id}#spend#notice#{label}"


# --- budgets -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Totals:
    micro_usd: int = 0
    tokens: int = 0
    unpriced_tokens: int = 0

    @property
    def usd(self) -> float:
        return self.micro_usd / MICRO


@dataclass(frozen=True)
class Budget:
    daily_usd: float | None = None
    monthly_usd: float | None = None
    chat: Literal["stop", "continue"] = "stop"


@dataclass(frozen=True)
class BudgetState:
    reached: Period | None
    """The period whose budget is spent (monthly wins when both are)."""
    resumes_at: datetime | None
    """When automations run again (and chat, if it stops): the start of the next period."""
    budget_usd: float | None = None
    spent_usd: float | None = None

    @property
    def paused(self) -> bool:
        return self.reached is not None


def budget_state(budget: Budget, today: Totals, month: Totals, now: datetime) -> BudgetState:
    """Reached when the estimated spend is at or above the budget (a budget of 0 pauses
    everything that spends). Tokens without a price cost nothing here."""
    if budget.monthly_usd is not None and month.usd >= budget.monthly_usd:
        return BudgetState("monthly", next_month(now), budget.monthly_usd, month.usd)
    if budget.daily_usd is not None and today.usd >= budget.daily_usd:
        return BudgetState("daily", next_day(now), budget.daily_usd, today.usd)
    return BudgetState(None, None)


def budget_notice(state: BudgetState, *, chat_stops: bool) -> str:
    """What the person is told, once per period, on the web and in Telegram."""
    if state.reached is None or state.resumes_at is None:
        return ""
    which = "today's" if state.reached == "daily" else "this month's"
    until = state.resumes_at.strftime("%Y-%m-%d %H:%M UTC")
    chat = (
        "Chat stops too until then; raise the budget in Settings to continue."
        if chat_stops
        else "You can keep chatting (Settings decide whether chat stops too)."
    )
    return (
        f"⏸️ Spending limit reached: the estimated LLM cost of {which} use is "
        f"${state.spent_usd or 0:.2f}, your {state.reached} budget is "
        f"${state.budget_usd or 0:.2f}. Automations and heartbeats are paused until {until}. "
        f"{chat}"
    )
