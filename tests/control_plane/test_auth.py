"""Cognito tokens at the WebSocket door, with real tokens from moto's Cognito and its JWKS."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from serverless_openclaw.adapters.aws.ports import default_issuer
from serverless_openclaw.adapters.jwks import TokenVerifier
from serverless_openclaw.app.services import Services
from serverless_openclaw.core.errors import Unauthorized
from serverless_openclaw.gateway import http_api, ws_connect

from .conftest import Cognito, FakeLambdaContext, body_of, connect_event, http_event


def _verifier(cognito: Cognito, **kwargs: object) -> TokenVerifier:
    return TokenVerifier(
        issuer=default_issuer("us-east-1", cognito.pool_id),
        client_id=cognito.client_id,
        jwks_url=cognito.jwks_url,
        **kwargs,  # type: ignore[arg-type]
    )


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"{header}.{forged}.{signature}"


def test_the_id_token_of_the_app_is_accepted_its_access_token_is_not(cognito: Cognito) -> None:
    alice = cognito.user()
    verifier = _verifier(cognito)
    by_id = verifier.verify(alice.id_token)
    assert (by_id.user_id, by_id.token_use, by_id.username) == (alice.sub, "id", alice.username)
    with pytest.raises(Unauthorized, match="ID token"):
        verifier.verify(alice.access_token)


def test_an_expired_token_is_refused(cognito: Cognito) -> None:
    token = cognito.user().id_token
    two_hours_later = _verifier(cognito, clock=lambda: time.time() + 2 * 3600)
    with pytest.raises(Unauthorized, match="expired"):
        two_hours_later.verify(token)


def test_a_token_for_another_app_client_is_refused(cognito: Cognito) -> None:
    other_client = cognito.new_client()
    user = cognito.user(client_id=other_client)
    with pytest.raises(Unauthorized, match="another app"):
        _verifier(cognito).verify(user.id_token)


def test_a_token_from_another_user_pool_is_refused(cognito: Cognito) -> None:
    other = cognito.other_pool()
    stranger = other.user()
    # Same signing keys in moto, so only the issuer check stands between them.
    verifier = TokenVerifier(
        issuer=default_issuer("us-east-1", cognito.pool_id),
        client_id=other.client_id,
        jwks_url=cognito.jwks_url,
    )
    with pytest.raises(Unauthorized, match="issuer"):
        verifier.verify(stranger.id_token)


def test_a_tampered_token_is_refused(cognito: Cognito) -> None:
    with pytest.raises(Unauthorized, match="signature"):
        _verifier(cognito).verify(_tamper(cognito.user().id_token))


@pytest.mark.parametrize("token", [None, "", "not-a-jwt", "a.b.c", "x" * 10_000])
def test_missing_or_garbage_tokens_are_refused(cognito: Cognito, token: str | None) -> None:
    with pytest.raises(Unauthorized):
        _verifier(cognito).verify(token)


def test_connect_accepts_a_valid_token_and_refuses_the_rest(
    services: Services, cognito: Cognito
) -> None:
    alice = cognito.user()
    services.user_settings.update(alice.sub, {"wakeOnConnect": False})
    context = FakeLambdaContext()

    accepted = ws_connect.handler(connect_event("ConnOK0001=", alice.id_token), context)
    assert accepted == {"statusCode": 200}
    record = services.connections.get("ConnOK0001=")
    assert record is not None
    assert record.user_id == alice.sub

    via_protocol = ws_connect.handler(
        connect_event("ConnOK0002=", alice.id_token, subprotocol=True), context
    )
    assert via_protocol == {
        "statusCode": 200,
        "headers": {"Sec-WebSocket-Protocol": alice.id_token},
    }

    for connection, token in [
        ("ConnBad001=", None),
        ("ConnBad002=", _tamper(alice.id_token)),
        ("ConnBad003=", "garbage"),
    ]:
        assert ws_connect.handler(connect_event(connection, token), context) == {"statusCode": 401}
        assert services.connections.get(connection) is None


def _rest(services: Services, authorization: str | None, path: str = "/api/settings") -> Any:
    event = http_event("GET", path, None)
    if authorization is not None:
        event["headers"]["authorization"] = authorization
    answer = http_api.handler(event, FakeLambdaContext())
    return answer["statusCode"], body_of(answer), answer.get("headers", {})


def test_the_rest_api_takes_a_bearer_id_token_and_answers_401_in_the_documented_shape(
    services: Services, cognito: Cognito
) -> None:
    alice = cognito.user()
    status, body, _ = _rest(services, f"Bearer {alice.id_token}")
    assert status == 200 and "idleTimeoutMinutes" in body
    assert _rest(services, f"bearer {alice.id_token}")[0] == 200  # the scheme is case-blind

    for authorization in [
        None,
        "",
        alice.id_token,  # no scheme
        f"Token {alice.id_token}",
        f"Bearer {alice.access_token}",  # the other token type
        f"Bearer {_tamper(alice.id_token)}",
        "Bearer ",
    ]:
        status, body, headers = _rest(services, authorization)
        assert status == 401, authorization
        assert set(body) == {"error"} and body["error"]["code"] == "unauthorized"
        assert body["error"]["message"]
        assert headers["WWW-Authenticate"].startswith("Bearer")
    # Without a valid token no route is told apart from another (no 404 for a made-up one).
    assert _rest(services, None, "/api/made-up")[0] == 401


def test_connect_refuses_an_access_token(services: Services, cognito: Cognito) -> None:
    alice = cognito.user()
    answer = ws_connect.handler(
        connect_event("ConnAcc001=", alice.access_token), FakeLambdaContext()
    )
    assert answer == {"statusCode": 401}
    assert services.connections.get("ConnAcc001=") is None
