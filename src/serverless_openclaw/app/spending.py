"""LLM spending of a person: metered per model call, totalled per UTC day and month in the
counters store, held against the budgets of their settings.

Who calls what:
- the agent meters every model call it sees (the bridge its turns, the scheduler heartbeats
  and automations) with `record`; a call is counted once, whoever sees it first (a marker per
  OpenClaw message id), so a turn seen by both, or again after a restart, is not doubled;
- the control plane refuses a chat message with `check_chat` when a budget is reached and
  the person chose that chat stops (no agent is woken for it);
- `GET /api/usage` shows `summary`.

Counters hold micro-USD and token counts (integers); see core/spend.py for the keys.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from serverless_openclaw.contracts.frames import MessageUsage
from serverless_openclaw.contracts.records import (
    ModelPriceRow,
    SpendPeriod,
    UsageSummary,
    UserSettings,
)
from serverless_openclaw.core.errors import BudgetReached
from serverless_openclaw.core.llm_prices import LLM_PRICES, Rates
from serverless_openclaw.core.spend import (
    SEEN_TTL,
    Budget,
    BudgetState,
    Measure,
    ModelCall,
    Period,
    TokenUsage,
    Totals,
    budget_state,
    counter_expiry,
    counter_key,
    day_of,
    estimate_usd,
    month_of,
    next_day,
    next_month,
    notice_key,
    seen_key,
    to_micro,
)
from serverless_openclaw.ports.stores import CounterStore

PERIODS: Final[tuple[Period, Period]] = ("daily", "monthly")


def _now() -> datetime:
    return datetime.now(UTC)


def overrides_of(settings: UserSettings) -> dict[str, Rates]:
    """The person's prices as rates (a cache price left out is the input price)."""
    return {
        ref: Rates(
            input=price.inputUsdPerMtok,
            output=price.outputUsdPerMtok,
            cache_read=(
                price.cacheReadUsdPerMtok
                if price.cacheReadUsdPerMtok is not None
                else price.inputUsdPerMtok
            ),
            cache_write=(
                price.cacheWriteUsdPerMtok
                if price.cacheWriteUsdPerMtok is not None
                else price.inputUsdPerMtok
            ),
        )
        for ref, price in settings.llmPrices.items()
    }


def budget_of(settings: UserSettings) -> Budget:
    return Budget(
        daily_usd=settings.dailyBudgetUsd,
        monthly_usd=settings.monthlyBudgetUsd,
        chat=settings.chatOverBudget,
    )


def message_usage(calls: Iterable[ModelCall], settings: UserSettings) -> MessageUsage | None:
    """The usage shown under a reply: every model call of its turn, summed."""
    overrides = overrides_of(settings)
    usage = TokenUsage()
    cost: float | None = None
    model: str | None = None
    seen = False
    for call in calls:
        seen = True
        usage = usage + call.usage
        model = call.model or model
        usd = estimate_usd(call.usage, call.model, overrides, reported=call.reported_cost_usd)
        if usd is not None:
            cost = (cost or 0.0) + usd
    if not seen:
        return None
    return MessageUsage(
        inputTokens=usage.input,
        outputTokens=usage.output,
        cacheReadTokens=usage.cache_read,
        cacheWriteTokens=usage.cache_write,
        costUsd=cost,
        model=model,
    )


@dataclass(frozen=True)
class Metered:
    cost_usd: float | None
    new: bool
    """False when this call had been counted before (by another reader, or before a restart)."""


@dataclass
class Spending:
    counters: CounterStore
    clock: Callable[[], datetime] = _now

    # --- writing ---------------------------------------------------------------------------
    def record(self, user_id: str, call: ModelCall, settings: UserSettings) -> Metered:
        """Count one model call into its day and month, once.

        The marker is set before the totals move: a crash in between loses the call's
        figures (an underestimate of one call) rather than counting it twice."""
        cost = estimate_usd(
            call.usage, call.model, overrides_of(settings), reported=call.reported_cost_usd
        )
        now = self.clock()
        if not self.counters.mark(seen_key(user_id, call.id), expires_at=now + SEEN_TTL, now=now):
            return Metered(cost, new=False)
        at = call.at or now
        for period in PERIODS:
            self._add(user_id, period, at, "tokens", call.usage.total)
            if cost is None:
                self._add(user_id, period, at, "unpriced", call.usage.total)
            else:
                self._add(user_id, period, at, "usd", to_micro(cost))
        return Metered(cost, new=True)

    def _add(self, user_id: str, period: Period, at: datetime, measure: Measure, n: int) -> None:
        if n > 0:
            self.counters.increment(
                counter_key(user_id, period, at, measure),
                expires_at=counter_expiry(period, at),
                amount=n,
            )

    # --- reading ---------------------------------------------------------------------------
    def totals(self, user_id: str, period: Period, now: datetime | None = None) -> Totals:
        at = now or self.clock()
        value = self.counters.value
        return Totals(
            micro_usd=value(counter_key(user_id, period, at, "usd")),
            tokens=value(counter_key(user_id, period, at, "tokens")),
            unpriced_tokens=value(counter_key(user_id, period, at, "unpriced")),
        )

    def _spent(self, user_id: str, period: Period, at: datetime) -> Totals:
        return Totals(micro_usd=self.counters.value(counter_key(user_id, period, at, "usd")))

    def state(
        self, user_id: str, settings: UserSettings, now: datetime | None = None
    ) -> BudgetState:
        """Whether a budget is reached; reads only the periods that have a budget."""
        at = now or self.clock()
        budget = budget_of(settings)
        today = self._spent(user_id, "daily", at) if budget.daily_usd is not None else Totals()
        month = self._spent(user_id, "monthly", at) if budget.monthly_usd is not None else Totals()
        return budget_state(budget, today, month, at)

    def check_chat(self, user_id: str, settings: UserSettings, now: datetime | None = None) -> None:
        """`BudgetReached` when a budget is used up and the person chose that chat stops."""
        if settings.chatOverBudget != "stop":
            return
        at = now or self.clock()
        state = self.state(user_id, settings, at)
        if state.reached is None or state.resumes_at is None:
            return
        which = "daily" if state.reached == "daily" else "monthly"
        until = state.resumes_at.strftime("%Y-%m-%d %H:%M UTC")
        raise BudgetReached(
            f"Your {which} LLM budget of ${state.budget_usd or 0:.2f} is used up "
            f"(estimated ${state.spent_usd or 0:.2f}); chat resumes at {until}, or raise the "
            "budget in Settings.",
            retry_after_s=(state.resumes_at - at).total_seconds(),
        )

    def claim_notice(self, user_id: str, state: BudgetState, now: datetime | None = None) -> bool:
        """True once per reached period: the caller tells the person."""
        if state.reached is None or state.resumes_at is None:
            return False
        at = now or self.clock()
        return self.counters.mark(
            notice_key(user_id, state.reached, at), expires_at=state.resumes_at, now=at
        )

    def summary(self, user_id: str, settings: UserSettings) -> UsageSummary:
        at = self.clock()
        today, month = self.totals(user_id, "daily", at), self.totals(user_id, "monthly", at)
        state = budget_state(budget_of(settings), today, month, at)
        return UsageSummary(
            today=SpendPeriod(
                period=day_of(at),
                tokens=today.tokens,
                costUsd=today.usd,
                unpricedTokens=today.unpriced_tokens,
                budgetUsd=settings.dailyBudgetUsd,
                resetsAt=next_day(at),
            ),
            thisMonth=SpendPeriod(
                period=month_of(at),
                tokens=month.tokens,
                costUsd=month.usd,
                unpricedTokens=month.unpriced_tokens,
                budgetUsd=settings.monthlyBudgetUsd,
                resetsAt=next_month(at),
            ),
            budgetReached=state.reached,
            pausedUntil=state.resumes_at,
            chatOverBudget=settings.chatOverBudget,
            prices=price_rows(settings),
        )


def price_rows(settings: UserSettings) -> list[ModelPriceRow]:
    """The table as the estimates use it: the built-in rows, overridden ones marked, then
    the person's models the table lacks."""
    overrides = overrides_of(settings)
    rows = []
    for ref, price in LLM_PRICES.items():
        rates = overrides.get(ref, price.rates)
        rows.append(_row(ref, rates, price.source, price.as_of, ref in overrides))
    for ref, rates in overrides.items():
        if ref not in LLM_PRICES:
            rows.append(_row(ref, rates, "your price (Settings)", None, True))
    return rows


def _row(ref: str, rates: Rates, source: str, as_of: str | None, mine: bool) -> ModelPriceRow:
    return ModelPriceRow(
        model=ref,
        inputUsdPerMtok=rates.input,
        outputUsdPerMtok=rates.output,
        cacheReadUsdPerMtok=rates.cache_read,
        cacheWriteUsdPerMtok=rates.cache_write,
        source="your price (Settings)" if mine else source,
        asOf=None if mine else as_of,
        overridden=mine,
    )
