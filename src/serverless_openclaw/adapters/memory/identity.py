"""Identity for unit tests: a user directory in a dict and a token verifier that knows the
tokens it handed out. No cryptography: tests of the application need "this token is Alice"
and "this one is not valid", not RS256 (the embedded provider and jwks.py are tested for that).
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal

from serverless_openclaw.core.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from serverless_openclaw.ports.identity import Caller, UserInfo


class MemoryUsers:
    """Implements `ports.identity.UserDirectory`; `signed_out` lists global sign-outs."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._clock = clock
        self._users: dict[str, UserInfo] = {}
        self._lock = threading.Lock()
        self.signed_out: list[str] = []

    def add(
        self, email: str, *, temporary_password: str | None = None, send_invite: bool = True
    ) -> UserInfo:
        username = email.strip().lower()
        if "@" not in username:
            raise InvalidRequest(f"{email!r} is not an e-mail address")
        with self._lock:
            if username in self._users:
                raise Conflict(f"user {username} already exists")
            user = UserInfo(
                username=username,
                email=username,
                status="FORCE_CHANGE_PASSWORD",
                enabled=True,
                created_at=self._clock(),
                sub=str(uuid.uuid4()),
            )
            self._users[username] = user
            return user

    def confirm(self, username: str) -> UserInfo:
        """The user chose their password (what a first sign-in does)."""
        with self._lock:
            user = replace(self._get(username), status="CONFIRMED")
            self._users[user.username] = user
            return user

    def remove(self, username: str) -> None:
        with self._lock:
            self._get(username)
            del self._users[username.strip().lower()]

    def get(self, username: str) -> UserInfo:
        with self._lock:
            return self._get(username)

    def list(self) -> list[UserInfo]:
        with self._lock:
            return sorted(self._users.values(), key=lambda user: user.username)

    def sign_out_everywhere(self, username: str) -> None:
        with self._lock:
            self.signed_out.append(self._get(username).username)

    def _get(self, username: str) -> UserInfo:
        user = self._users.get(username.strip().lower())
        if user is None:
            raise NotFound(f"user {username} not found")
        return user


class MemoryTokens:
    """Implements `ports.identity.TokenVerifier` for tokens made by `token_for`."""

    def __init__(self, clock: Callable[[], float] = time.time, lifetime_s: float = 3600) -> None:
        self._clock = clock
        self._lifetime_s = lifetime_s
        self._issued: dict[str, Caller] = {}
        self._lock = threading.Lock()

    def token_for(
        self,
        user_id: str,
        username: str | None = None,
        *,
        token_use: Literal["id", "access"] = "id",  # noqa: S107 - not a password
    ) -> str:
        token = f"memory.{secrets.token_urlsafe(16)}"
        caller = Caller(user_id, username, token_use, self._clock() + self._lifetime_s)
        with self._lock:
            self._issued[token] = caller
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._issued.pop(token, None)

    def verify(self, token: str | None) -> Caller:
        with self._lock:
            caller = self._issued.get(token or "")
        if caller is None:
            raise Unauthorized("invalid token")
        if self._clock() > caller.expires_at:
            raise Unauthorized("token expired")
        return caller
