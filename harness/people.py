"""A person using a running dev stack: signed in as the web app signs in, then only the
public HTTP and WebSocket APIs (and the fake Telegram, as their phone would)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from .agent import AgentProcess
from .ws import WsClient

if TYPE_CHECKING:
    from .stack import DevStackProcess

TOKEN_REUSE_S = 1800.0
"""An ID token is reused this long (Cognito's last an hour), as the web app keeps its own."""


@dataclass
class Person:
    email: str
    password: str
    user_id: str
    """Cognito's `sub`: the key of every row of theirs."""
    stack: DevStackProcess
    _token: str | None = field(default=None, repr=False)
    _token_at: float = field(default=0.0, repr=False)
    _token_start: int = field(default=0, repr=False)
    created_at: float = field(default_factory=time.monotonic, repr=False)
    """When the test made them (time.monotonic): their agents stop when that test ends."""

    # --- signing in ------------------------------------------------------------------------
    def tokens(self) -> dict[str, str]:
        """A fresh sign-in through the stack's own sign-in endpoint (the local identity
        provider, or moto's Cognito on the aws backend), as the web app does: IdToken,
        AccessToken, RefreshToken."""
        from serverless_openclaw.local.cognito import sign_in

        return sign_in(
            self.stack.idp(), str(self.stack.info["user_pool_client_id"]), self.email, self.password
        )

    def token(self) -> str:
        """An ID token: the last one while it is younger than TOKEN_REUSE_S and the stack has
        not been restarted since (a restarted stack may sign with new keys)."""
        stale = (
            self._token is None
            or time.monotonic() - self._token_at > TOKEN_REUSE_S
            or self._token_start != self.stack.starts
        )
        if stale:
            self._token = self.tokens()["IdToken"]
            self._token_at = time.monotonic()
            self._token_start = self.stack.starts
        assert self._token is not None
        return self._token

    def http(self) -> httpx.Client:
        """An HTTP client of the stack's API with this person's token."""
        return httpx.Client(
            base_url=self.stack.url,
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=60,
        )

    def ws(self) -> WsClient:
        """A WebSocket of theirs (open it with `async with`)."""
        return WsClient(f"{self.stack.ws_url}?token={self.token()}")

    # --- the HTTP API ----------------------------------------------------------------------
    def settings(self, **changes: Any) -> dict[str, Any]:
        with self.http() as client:
            response = client.put("/api/settings", json=changes)
            response.raise_for_status()
            return dict(response.json())

    def agent(self) -> dict[str, Any]:
        """GET /api/agent: their agent's state as the web app shows it (the body as it is,
        also when the stack answers with an error: a waiting test reads it again)."""
        with self.http() as client:
            return dict(client.get("/api/agent").json())

    def stop_agent(self) -> None:
        with self.http() as client:
            client.post("/api/agent/stop").raise_for_status()

    def messages(self, conversation: str = "main") -> list[dict[str, Any]]:
        """Every stored message of the conversation, oldest first (all pages)."""
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        with self.http() as client:
            while True:
                params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
                response = client.get(f"/api/conversations/{conversation}/messages", params=params)
                if response.status_code == 404:
                    return items
                response.raise_for_status()
                page = response.json()
                items.extend(page["items"])
                cursor = page.get("nextCursor")
                if not cursor:
                    return items

    async def wait_state(self, state: str, timeout: float = 240) -> dict[str, Any]:
        """Their agent as GET /api/agent shows it once it is in `state` (idle, running...)."""
        deadline = time.monotonic() + timeout
        while True:
            agent = await asyncio.to_thread(self.agent)
            if agent.get("state") == state:
                return agent
            if time.monotonic() > deadline:
                raise TimeoutError(f"agent of {self.email} is {agent}, not {state}")
            await asyncio.sleep(0.5)

    # --- their agent task, from outside ----------------------------------------------------
    def task_row(self) -> dict[str, Any]:
        return self.stack.task_row(self)

    def work_dir(self) -> Path | None:
        return self.stack.agent_work_dir(self)

    async def agent_process(self, timeout: float = 240) -> AgentProcess:
        """Their running agent task (waits for its agent.json without blocking the loop)."""
        deadline = time.monotonic() + timeout
        while True:
            work = await asyncio.to_thread(self.work_dir)
            agent = AgentProcess.read(work) if work is not None else None
            if agent is not None:
                return agent
            if time.monotonic() > deadline:
                raise TimeoutError(f"no agent process for {self.email}")
            await asyncio.sleep(0.1)

    # --- Telegram (the stack's fake Bot API) -----------------------------------------------
    def pair_telegram(self, chat_id: int) -> None:
        """Link a chat of the fake Telegram to this person, as they would: code from the
        web app, `/pair CODE` sent to the bot."""
        with self.http() as client:
            response = client.post("/api/telegram/pairing-code")
            response.raise_for_status()
            code = response.json()["code"]
        base = str(self.stack.info["telegram_api_base"])
        httpx.post(f"{base}/_fake/updates", json={"chatId": chat_id, "text": f"/pair {code}"})
        httpx.post(f"{base}/_fake/deliver", timeout=60).raise_for_status()

    def telegram_texts(self, chat_id: int) -> list[str]:
        """What the bot sent to `chat_id` so far, oldest first."""
        base = str(self.stack.info["telegram_api_base"])
        messages = httpx.get(f"{base}/_fake/messages", params={"chatId": chat_id}).json()
        return [str(m["text"]) for m in messages]
