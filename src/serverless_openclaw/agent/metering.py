"""The agent's side of LLM spending: count what every model call cost, and hold the person's
budget (app/spending.py keeps the counters; core/spend.py prices and decides).

- `Meter.record(calls)`: the bridge after each turn (the calls of its runs, read from the
  session's history), the scheduler for heartbeat and automation turns (the main session's
  history, and the `finished` events of isolated automation runs). A call is counted once,
  whoever sees it; the sum of a turn's calls is what the reply shows.
- `BudgetGuard.check()`: after each metered pass and every scheduler poll. When a budget is
  reached it pauses automations and heartbeats (`pause(True)` rewrites `openclaw.json`, which
  the gateway hot-reloads) and tells the person once per period, on the web and Telegram;
  when the period resets (a new UTC day or month) or the budget is raised, it resumes them.
  `chat_refusal()` is what the bridge asks before a turn when chat stops with the budget.

Counters and settings are synchronous stores: every call runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from serverless_openclaw.app.spending import Spending, message_usage
from serverless_openclaw.contracts.frames import MessageUsage
from serverless_openclaw.core.errors import StorageUnavailable
from serverless_openclaw.core.spend import BudgetState, ModelCall, budget_notice
from serverless_openclaw.ports.stores import SettingsStore

log = logging.getLogger(__name__)

Pause = Callable[[bool], Awaitable[None]]
"""Pause (True) or resume (False) automations and heartbeats."""
Notify = Callable[[str, str], Awaitable[None]]
"""(message id, text) -> a message to the person on every channel, stored once by id."""


@dataclass
class Meter:
    user_id: str
    spending: Spending
    user_settings: SettingsStore
    counted: set[str] = field(default_factory=set)
    """Calls this task counted. The store counts each call once whoever records it; this
    only spares it a write for every call the scheduler sees again on each pass."""

    async def record(self, calls: Sequence[ModelCall]) -> MessageUsage | None:
        """Count each call once; all the calls' usage summed for display (None without
        calls). A storage failure is logged: it must never cost the person their answer."""
        if not calls:
            return None
        try:
            settings = await asyncio.to_thread(self.user_settings.get, self.user_id)
            for call in calls:
                if call.id in self.counted:
                    continue
                await asyncio.to_thread(self.spending.record, self.user_id, call, settings)
                self.counted.add(call.id)
        except StorageUnavailable as exc:
            log.warning("spending not counted: %s", exc)
            return None
        return message_usage(calls, settings)


@dataclass
class BudgetGuard:
    user_id: str
    spending: Spending
    user_settings: SettingsStore
    pause: Pause
    notify: Notify
    paused: bool | None = None
    """What the gateway's config says now (None: not known yet, the next check writes it)."""
    resumes_at: datetime | None = None
    """While paused: when the budget resets (no scheduled wake-up is asked for before)."""

    async def state(self) -> tuple[BudgetState, bool]:
        """(the budget's state, whether chat stops with it)."""
        settings = await asyncio.to_thread(self.user_settings.get, self.user_id)
        state = await asyncio.to_thread(self.spending.state, self.user_id, settings)
        return state, settings.chatOverBudget == "stop"

    async def check(self) -> BudgetState | None:
        """Pause or resume to match the budget; tell the person when it was reached."""
        try:
            state, chat_stops = await self.state()
        except StorageUnavailable as exc:
            log.warning("budget not checked: %s", exc)
            return None
        if state.paused != self.paused:
            log.info(
                "automations %s (budget %s)",
                "paused" if state.paused else "resumed",
                state.reached or "not reached",
            )
            await self.pause(state.paused)
            self.paused = state.paused
        self.resumes_at = state.resumes_at
        if state.paused and await asyncio.to_thread(
            self.spending.claim_notice, self.user_id, state
        ):
            notice_id = f"budget-{state.reached}-{state.resumes_at:%Y%m%d}"
            await self.notify(notice_id, budget_notice(state, chat_stops=chat_stops))
        return state

    async def chat_refusal(self) -> str | None:
        """Why a chat message is not answered now (None: answer it)."""
        try:
            state, chat_stops = await self.state()
        except StorageUnavailable as exc:
            log.warning("budget not checked before a turn: %s", exc)
            return None
        if not (state.paused and chat_stops) or state.resumes_at is None:
            return None
        which = "today's" if state.reached == "daily" else "this month's"
        return (
            f"Not answered: {which} LLM budget (${state.budget_usd or 0:.2f}) is used up — "
            f"estimated ${state.spent_usd or 0:.2f}. Chat resumes at "
            f"{state.resumes_at:%Y-%m-%d %H:%M} UTC, or raise the budget in Settings."
        )
