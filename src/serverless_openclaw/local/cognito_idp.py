"""Cognito's user-pool API on one machine, over the embedded identity provider.

Speaks the `AWSCognitoIdentityProviderService.<Operation>` JSON protocol that
amazon-cognito-identity-js (the web app) and boto3 use, for what signing in needs:
InitiateAuth (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH), RespondToAuthChallenge
(NEW_PASSWORD_REQUIRED), GetUser, GlobalSignOut, RevokeToken; and publishes the pool's JWKS at
`/<pool id>/.well-known/jwks.json`, the path Cognito uses under its issuer URL.

Mounted by the API Gateway emulator at `/cognito`, so it shares the stack's one public port.
The local web client signs in with USER_PASSWORD_AUTH over loopback (`authFlow` in the runtime
config); the deployed one uses SRP against the real Cognito. Refusals carry Cognito's error
types (`NotAuthorizedException`, `InvalidPasswordException`, `TooManyRequestsException`, ...),
which is what the web app maps to words.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any, Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from serverless_openclaw.adapters.embedded.identity import (
    EmbeddedIdentity,
    NewPasswordRequired,
    SignInResult,
)
from serverless_openclaw.core.errors import (
    Conflict,
    InvalidPassword,
    InvalidRequest,
    NotFound,
    OpenClawError,
    QuotaExceeded,
    Unauthorized,
)

log = logging.getLogger(__name__)

TARGET_PREFIX: Final = "AWSCognitoIdentityProviderService."
CONTENT_TYPE: Final = "application/x-amz-json-1.1"
MOUNT_PATH: Final = "/cognito"


class CognitoApiError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def _error_type(exc: OpenClawError) -> str:
    match exc:
        case InvalidPassword():
            return "InvalidPasswordException"
        case InvalidRequest():
            return "InvalidParameterException"
        case Unauthorized():
            return "NotAuthorizedException"
        case QuotaExceeded():
            return "TooManyRequestsException"
        case Conflict():
            return "UsernameExistsException"
        case NotFound():
            return "UserNotFoundException"
        case _:
            return "InternalErrorException"


def _text(body: dict[str, Any], *path: str) -> str:
    value: Any = body
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        raise CognitoApiError("InvalidParameterException", f"{'.'.join(path)} is required")
    return value


class CognitoIdp:
    """The Starlette `app`; every operation runs in a worker thread (password hashing is CPU
    work and the store is SQLite)."""

    def __init__(self, identity: EmbeddedIdentity) -> None:
        self.identity = identity
        self.app = Starlette(routes=self.routes(""))
        self._operations: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
            "InitiateAuth": self.initiate_auth,
            "RespondToAuthChallenge": self.respond_to_auth_challenge,
            "GetUser": self.get_user,
            "GlobalSignOut": self.global_sign_out,
            "RevokeToken": self.revoke_token,
        }

    def routes(self, prefix: str = MOUNT_PATH) -> list[BaseRoute]:
        """The endpoint at `prefix` itself (Cognito's clients POST to the bare endpoint URL)
        and the JWKS below it."""
        return [
            Route(prefix or "/", self._endpoint, methods=["POST"]),
            Route(f"{prefix}/{{pool_id}}/.well-known/jwks.json", self._jwks, methods=["GET"]),
        ]

    async def _jwks(self, request: Request) -> Response:
        if request.path_params["pool_id"] != self.identity.pool_id:
            return JSONResponse({"message": "Not Found"}, status_code=404)
        return JSONResponse(self.identity.jwks(), headers={"cache-control": "max-age=300"})

    async def _endpoint(self, request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        operation = self._operations.get(target.removeprefix(TARGET_PREFIX))
        source = request.client.host if request.client else "unknown"
        if operation is None or not target.startswith(TARGET_PREFIX):
            return self._error("InvalidAction", f"operation {target!r} is not emulated")
        try:
            answer = await _in_thread(operation, _body(await request.body()), source)
        except CognitoApiError as exc:
            return self._error(exc.kind, str(exc))
        except OpenClawError as exc:
            return self._error(_error_type(exc), str(exc))
        return JSONResponse(answer, media_type=CONTENT_TYPE)

    @staticmethod
    def _error(kind: str, message: str) -> Response:
        return JSONResponse(
            {"__type": kind, "message": message},
            status_code=400,
            media_type=CONTENT_TYPE,
            headers={"x-amzn-ErrorType": f"{kind}:"},
        )

    def _check_client(self, body: dict[str, Any]) -> None:
        client_id = _text(body, "ClientId")
        if client_id != self.identity.client_id:
            raise CognitoApiError(
                "ResourceNotFoundException", f"User pool client {client_id} does not exist."
            )

    # --- operations (sync; run in a thread) ------------------------------------------------
    def initiate_auth(self, body: dict[str, Any], source: str) -> dict[str, Any]:
        self._check_client(body)
        flow = body.get("AuthFlow")
        if flow == "USER_PASSWORD_AUTH":
            result = self.identity.password_auth(
                _text(body, "AuthParameters", "USERNAME"),
                _text(body, "AuthParameters", "PASSWORD"),
                source=source,
            )
            return self._answer(result)
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            tokens = self.identity.refresh(_text(body, "AuthParameters", "REFRESH_TOKEN"))
            return {"AuthenticationResult": tokens.as_cognito(), "ChallengeParameters": {}}
        raise CognitoApiError(
            "InvalidParameterException",
            f"{flow} is not enabled for the local client (use USER_PASSWORD_AUTH)",
        )

    def respond_to_auth_challenge(self, body: dict[str, Any], source: str) -> dict[str, Any]:
        self._check_client(body)
        if body.get("ChallengeName") != "NEW_PASSWORD_REQUIRED":
            raise CognitoApiError("InvalidParameterException", "unsupported challenge")
        tokens = self.identity.new_password(
            _text(body, "Session"),
            _text(body, "ChallengeResponses", "USERNAME"),
            _text(body, "ChallengeResponses", "NEW_PASSWORD"),
        )
        return {"AuthenticationResult": tokens.as_cognito(), "ChallengeParameters": {}}

    def get_user(self, body: dict[str, Any], source: str) -> dict[str, Any]:
        claims = self.identity.access_claims(_text(body, "AccessToken"))
        user = self.identity.get(str(claims["username"]))
        return {
            "Username": user.username,
            "UserAttributes": [
                {"Name": "sub", "Value": user.sub or ""},
                {"Name": "email", "Value": user.email or ""},
                {"Name": "email_verified", "Value": "true"},
            ],
        }

    def global_sign_out(self, body: dict[str, Any], source: str) -> dict[str, Any]:
        self.identity.global_sign_out(_text(body, "AccessToken"))
        return {}

    def revoke_token(self, body: dict[str, Any], source: str) -> dict[str, Any]:
        self._check_client(body)
        self.identity.revoke(_text(body, "Token"))
        return {}

    @staticmethod
    def _answer(result: SignInResult) -> dict[str, Any]:
        if isinstance(result, NewPasswordRequired):
            # amazon-cognito-identity-js JSON-parses both parameters: moto left them out and
            # the browser failed with `"undefined" is not valid JSON`.
            return {
                "ChallengeName": "NEW_PASSWORD_REQUIRED",
                "Session": result.session,
                "ChallengeParameters": {
                    "USER_ID_FOR_SRP": result.username,
                    "requiredAttributes": "[]",
                    "userAttributes": json.dumps(result.attributes),
                },
            }
        return {"AuthenticationResult": result.as_cognito(), "ChallengeParameters": {}}


def _body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw or b"{}")
    except ValueError as exc:
        raise CognitoApiError("SerializationException", "malformed JSON") from exc
    if not isinstance(body, dict):
        raise CognitoApiError("SerializationException", "the body must be an object")
    return body


def _in_thread(
    operation: Callable[[dict[str, Any], str], dict[str, Any]], body: dict[str, Any], source: str
) -> Awaitable[dict[str, Any]]:
    return asyncio.to_thread(operation, body, source)
