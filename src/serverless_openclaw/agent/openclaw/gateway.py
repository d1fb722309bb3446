"""What the agent uses of the OpenClaw gateway, as a Protocol (after httpx's transports).

`GatewayClient` (client.py) is the real one, over the gateway's WebSocket; `FakeGateway`
(fake.py) is a scriptable stand-in shipped beside it, so the bridge, the scheduler and the
supervisor are unit-tested without Node. The contract tests in tests/openclaw/ keep the real
client honest against the pinned gateway; the payload parsers below are shared, so the fake
answers through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from .activity import SessionActivity
from .protocol import message_text
from .runs import ChatRun


@dataclass(frozen=True)
class HistoryMessage:
    role: str
    text: str
    timestamp_ms: int | None
    id: str | None
    run_id: str | None = None
    """The run that produced an assistant message (a chat.send run, or e.g. a cron run)."""
    stop_reason: str | None = None
    """Why the model stopped ("stop", "aborted", "error"...), for assistant messages."""


@dataclass(frozen=True)
class CronJob:
    id: str
    name: str
    enabled: bool
    schedule: dict[str, Any]
    payload_kind: str
    session_target: str
    next_run_at_ms: int | None
    declaration_key: str | None
    raw: dict[str, Any] = field(repr=False, compare=False)


def parse_history(payload: Any) -> list[HistoryMessage]:
    """The `chat.history` response payload (`{"messages": [...]}`), oldest first."""
    messages = payload.get("messages", []) if isinstance(payload, dict) else []
    history = []
    for item in messages:
        if not isinstance(item, dict):
            continue
        meta = item.get("__openclaw") or {}
        history.append(
            HistoryMessage(
                role=str(item.get("role", "")),
                text=message_text(item) or "",
                timestamp_ms=item.get("timestamp"),
                id=meta.get("id") if isinstance(meta, dict) else None,
                run_id=meta.get("runId") if isinstance(meta, dict) else None,
                stop_reason=item.get("stopReason")
                if isinstance(item.get("stopReason"), str)
                else None,
            )
        )
    return history


def parse_cron_jobs(payload: Any) -> list[CronJob]:
    """The `cron.list` response payload (`{"jobs": [...]}`)."""
    jobs = payload.get("jobs", []) if isinstance(payload, dict) else []
    result = []
    for job in jobs:
        if not isinstance(job, dict):
            continue
        state = job.get("state") or {}
        next_run = job.get("nextRunAtMs", state.get("nextRunAtMs"))
        result.append(
            CronJob(
                id=str(job.get("id", "")),
                name=str(job.get("name") or job.get("displayName") or ""),
                enabled=bool(job.get("enabled", False)),
                schedule=dict(job.get("schedule") or {}),
                payload_kind=str((job.get("payload") or {}).get("kind", "")),
                session_target=str(job.get("sessionTarget", "")),
                next_run_at_ms=int(next_run) if isinstance(next_run, int | float) else None,
                declaration_key=job.get("declarationKey"),
                raw=job,
            )
        )
    return result


class Gateway(Protocol):
    """One operator connection to the gateway, kept alive by its owner.

    Events (`chat`, `agent`, `cron`, `heartbeat`, ...) reach the listener the connection was
    made with; `activity` follows which runs are busy per session, OpenClaw's own included.
    Every call may raise `GatewayDisconnected` (the gateway went away), `GatewayError`;
    a run's iteration raises `RunFailed` for a model error.
    """

    @property
    def activity(self) -> SessionActivity: ...

    @property
    def connected(self) -> bool: ...

    async def start(self, *, wait: bool = True, timeout: float | None = 60.0) -> None: ...

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Until connected; raises the fatal error (e.g. a wrong token) if there is one."""
        ...

    async def close(self) -> None: ...

    async def chat_send(
        self, session_key: str, message: str, *, idempotency_key: str | None = None
    ) -> ChatRun:
        """Start a turn; the same key while it runs gives the same run."""
        ...

    async def chat_abort(self, session_key: str, run_id: str | None = None) -> Any: ...

    async def chat_history(
        self, session_key: str, *, limit: int | None = None
    ) -> list[HistoryMessage]: ...

    async def cron_list(self) -> list[CronJob]: ...
