"""Who may use the deployment: Cognito admin operations on the user pool.

Self sign-up is off (decision D9), so the owner adds every user here (`serverless-openclaw
user add`). Works the same against the deployed pool and moto's Cognito locally.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from serverless_openclaw.adapters.aws.errors import converted
from serverless_openclaw.core.errors import Conflict, InvalidRequest, NotFound
from serverless_openclaw.ports.identity import UserInfo

if TYPE_CHECKING:
    from mypy_boto3_cognito_idp import CognitoIdentityProviderClient


def _attributes(raw: list[Any]) -> dict[str, str]:
    return {item["Name"]: item["Value"] for item in raw}


def _user(raw: Any, attributes_key: str) -> UserInfo:
    attributes = _attributes(raw.get(attributes_key, []))
    return UserInfo(
        username=raw["Username"],
        email=attributes.get("email"),
        status=raw.get("UserStatus", "UNKNOWN"),
        enabled=bool(raw.get("Enabled", True)),
        created_at=raw.get("UserCreateDate"),
        sub=attributes.get("sub"),
    )


@contextmanager
def _converted(action: str, username: str | None = None) -> Iterator[None]:
    """Cognito's refusals in words an operator understands."""
    who = f" {username}" if username else ""
    try:
        with converted("Cognito", f"{action}{who}"):
            yield
    except Conflict as exc:
        raise Conflict(f"user{who} already exists") from exc
    except NotFound as exc:
        what = "user pool" if "ResourceNotFound" in str(exc) else f"user{who}"
        raise NotFound(f"{what} not found") from exc
    except InvalidRequest as exc:
        raise InvalidRequest(f"cannot {action}{who}: {exc}") from exc


__all__ = ["UserAdmin", "UserInfo"]


class UserAdmin:
    """Add, remove and list the users of one pool."""

    def __init__(self, client: CognitoIdentityProviderClient, user_pool_id: str) -> None:
        self._cognito = client
        self._pool = user_pool_id

    def add(
        self,
        email: str,
        *,
        temporary_password: str | None = None,
        send_invite: bool = True,
    ) -> UserInfo:
        """Create a user who signs in with `email`. Cognito e-mails the temporary password
        unless `send_invite` is off (then pass `temporary_password` and hand it over)."""
        if "@" not in email:
            raise InvalidRequest(f"{email!r} is not an e-mail address")
        kwargs: dict[str, Any] = {
            "UserPoolId": self._pool,
            "Username": email,
            "UserAttributes": [
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
            ],
        }
        if temporary_password is not None:
            kwargs["TemporaryPassword"] = temporary_password
        if send_invite:
            kwargs["DesiredDeliveryMediums"] = ["EMAIL"]
        else:
            kwargs["MessageAction"] = "SUPPRESS"
        with _converted("add", email):
            answer = self._cognito.admin_create_user(**kwargs)
        return _user(answer["User"], "Attributes")

    def remove(self, username: str) -> None:
        with _converted("remove", username):
            self._cognito.admin_delete_user(UserPoolId=self._pool, Username=username)

    def sign_out_everywhere(self, username: str) -> None:
        with _converted("sign out", username):
            self._cognito.admin_user_global_sign_out(UserPoolId=self._pool, Username=username)

    def get(self, username: str) -> UserInfo:
        with _converted("find", username):
            answer = self._cognito.admin_get_user(UserPoolId=self._pool, Username=username)
        return _user(answer, "UserAttributes")

    def list(self) -> list[UserInfo]:
        users: list[UserInfo] = []
        with _converted("list users"):
            paginator = self._cognito.get_paginator("list_users")
            for page in paginator.paginate(UserPoolId=self._pool):
                users += [_user(raw, "Attributes") for raw in page.get("Users", [])]
        return sorted(users, key=lambda user: user.email or user.username)
