"""Who may use the deployment: the user directory (Cognito on AWS, the embedded identity
provider locally) and the verification of the tokens it issues."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol


@dataclass(frozen=True)
class UserInfo:
    username: str
    email: str | None
    status: str
    """FORCE_CHANGE_PASSWORD until the first sign-in, then CONFIRMED (Cognito's names)."""
    enabled: bool
    created_at: datetime | None
    sub: str | None = None
    """The stable user id the rest of the system keys data by."""


@dataclass(frozen=True)
class Caller:
    """Who is calling. `user_id` is the `sub`, the key of all the user's data."""

    user_id: str
    username: str | None
    token_use: Literal["id", "access"]
    expires_at: float


class TokenVerifier(Protocol):
    def verify(self, token: str | None) -> Caller:
        """The caller, or `Unauthorized` saying (vaguely) why not."""
        ...


class UserDirectory(Protocol):
    """Add, remove and list the people who may sign in (self sign-up is off, D9)."""

    def add(
        self, email: str, *, temporary_password: str | None = None, send_invite: bool = True
    ) -> UserInfo:
        """A new user who signs in with `email` and must choose a password at first sign-in.
        `Conflict` when the user exists; `InvalidRequest` for a bad address or password."""
        ...

    def remove(self, username: str) -> None:
        """`NotFound` when there is no such user."""
        ...

    def get(self, username: str) -> UserInfo: ...

    def list(self) -> list[UserInfo]: ...

    def sign_out_everywhere(self, username: str) -> None:
        """Revoke every refresh token of the user (Cognito's AdminUserGlobalSignOut)."""
        ...
