"""The local identity provider, through Cognito's own client (boto3) and the web app's token
check (`adapters/jwks.py`): what a person signing in to `serverless-openclaw dev` meets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from argon2 import PasswordHasher
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from serverless_openclaw.adapters.embedded.identity import EmbeddedIdentity, SignInLimits
from serverless_openclaw.adapters.jwks import TokenVerifier
from serverless_openclaw.core.errors import Conflict, InvalidPassword, NotFound, Unauthorized
from serverless_openclaw.local.cognito_idp import CognitoIdp
from serverless_openclaw.local.serve import ServerHandle, serve_in_thread

FAST_HASH = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
TEMPORARY = "Temporary-Pass1"
CHOSEN = "Chosen-Passw0rd"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Idp:
    identity: EmbeddedIdentity
    server: ServerHandle
    clock: Clock

    @property
    def url(self) -> str:
        return self.server.url

    def client(self) -> Any:
        return boto3.client(
            "cognito-idp",
            endpoint_url=self.url,
            region_name="us-east-1",
            config=Config(signature_version=UNSIGNED, retries={"max_attempts": 1}),
        )

    def sign_in(self, username: str, password: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.client().initiate_auth(
            ClientId=self.identity.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
        return answer

    def confirmed_user(self, email: str = "ada@example.com") -> None:
        self.identity.add(email, temporary_password=TEMPORARY)
        self.identity.set_password(email, CHOSEN)


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[Idp]:
    clock = Clock()
    server: ServerHandle | None = None

    # The issuer is the server's URL, known once it listens: serve a lazy app.
    from starlette.types import Receive, Scope, Send

    holder: dict[str, Any] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await holder["app"](scope, receive, send)

    server = serve_in_thread(app)
    identity = EmbeddedIdentity(
        tmp_path / "state.db",
        issuer_base=server.url,
        clock=clock,
        hasher=FAST_HASH,
        limits=SignInLimits(per_user=3, per_source=5, window_s=600),
    )
    holder["app"] = CognitoIdp(identity).app
    yield Idp(identity, server, clock)
    server.stop()
    identity.close()


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_a_wrong_password_is_refused_and_the_right_one_signs_in(idp: Idp) -> None:
    idp.confirmed_user()
    with pytest.raises(ClientError) as refused:
        idp.sign_in("ada@example.com", "Not-the-passw0rd")
    assert error_code(refused) == "NotAuthorizedException"
    tokens = idp.sign_in("Ada@Example.com", CHOSEN)["AuthenticationResult"]
    assert {"IdToken", "AccessToken", "RefreshToken"} <= set(tokens)


def test_an_unknown_user_gets_the_same_answer_as_a_wrong_password(idp: Idp) -> None:
    idp.confirmed_user()
    with pytest.raises(ClientError) as unknown:
        idp.sign_in("nobody@example.com", CHOSEN)
    with pytest.raises(ClientError) as wrong:
        idp.sign_in("ada@example.com", "Wrong-Passw0rd1")
    assert error_code(unknown) == error_code(wrong) == "NotAuthorizedException"
    assert unknown.value.response["Error"]["Message"] == wrong.value.response["Error"]["Message"]


def test_tokens_pass_the_verifier_through_the_published_jwks(idp: Idp) -> None:
    idp.confirmed_user()
    tokens = idp.sign_in("ada@example.com", CHOSEN)["AuthenticationResult"]
    verifier = TokenVerifier(
        issuer=idp.identity.issuer,
        client_id=idp.identity.client_id,
        jwks_url=idp.identity.jwks_url,
        clock=idp.clock,
    )
    user = idp.identity.get("ada@example.com")
    by_id = verifier.verify(tokens["IdToken"])
    by_access = verifier.verify(tokens["AccessToken"])
    assert (by_id.user_id, by_id.username, by_id.token_use) == (user.sub, user.username, "id")
    assert (by_access.user_id, by_access.token_use) == (user.sub, "access")
    other_app = TokenVerifier(
        issuer=idp.identity.issuer, client_id="another-app", jwks_url=idp.identity.jwks_url
    )
    with pytest.raises(Unauthorized):
        other_app.verify(tokens["IdToken"])
    idp.clock.now += 2 * 3600
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(tokens["IdToken"])


def test_first_sign_in_with_the_temporary_password_must_choose_a_new_one(idp: Idp) -> None:
    added = idp.identity.add("ada@example.com", temporary_password=TEMPORARY)
    assert added.status == "FORCE_CHANGE_PASSWORD"
    challenge = idp.sign_in("ada@example.com", TEMPORARY)
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    assert "AuthenticationResult" not in challenge
    # What amazon-cognito-identity-js parses (moto's omission broke the browser).
    params = challenge["ChallengeParameters"]
    assert __import__("json").loads(params["userAttributes"])["email"] == "ada@example.com"
    assert __import__("json").loads(params["requiredAttributes"]) == []

    def respond(password: str, session: str) -> dict[str, Any]:
        answer: dict[str, Any] = idp.client().respond_to_auth_challenge(
            ClientId=idp.identity.client_id,
            ChallengeName="NEW_PASSWORD_REQUIRED",
            Session=session,
            ChallengeResponses={"USERNAME": "ada@example.com", "NEW_PASSWORD": password},
        )
        return answer

    with pytest.raises(ClientError) as weak:
        respond("short", challenge["Session"])
    assert error_code(weak) == "InvalidPasswordException"
    done = respond(CHOSEN, challenge["Session"])
    assert "IdToken" in done["AuthenticationResult"]
    with pytest.raises(ClientError) as reused:
        respond("Another-Passw0rd", challenge["Session"])
    assert error_code(reused) == "NotAuthorizedException"
    assert idp.identity.get("ada@example.com").status == "CONFIRMED"
    with pytest.raises(ClientError):
        idp.sign_in("ada@example.com", TEMPORARY)
    assert "AuthenticationResult" in idp.sign_in("ada@example.com", CHOSEN)


def test_repeated_failures_lock_the_user_out_for_the_window(idp: Idp) -> None:
    idp.confirmed_user()
    for _ in range(3):
        with pytest.raises(ClientError):
            idp.sign_in("ada@example.com", "Wrong-Passw0rd1")
    with pytest.raises(ClientError) as locked:
        idp.sign_in("ada@example.com", CHOSEN)  # even the right password, for now
    assert error_code(locked) == "TooManyRequestsException"
    idp.clock.now += 601
    assert "AuthenticationResult" in idp.sign_in("ada@example.com", CHOSEN)


def test_one_source_guessing_many_users_is_limited_too(idp: Idp) -> None:
    idp.confirmed_user()
    for n in range(5):
        with pytest.raises(ClientError):
            idp.sign_in(f"guess{n}@example.com", "Wrong-Passw0rd1")
    with pytest.raises(ClientError) as limited:
        idp.sign_in("ada@example.com", CHOSEN)
    assert error_code(limited) == "TooManyRequestsException"


def test_refresh_revoke_and_global_sign_out(idp: Idp) -> None:
    idp.confirmed_user()
    client = idp.client()
    first = idp.sign_in("ada@example.com", CHOSEN)["AuthenticationResult"]
    second = idp.sign_in("ada@example.com", CHOSEN)["AuthenticationResult"]

    def refresh(token: str) -> dict[str, Any]:
        answer: dict[str, Any] = client.initiate_auth(
            ClientId=idp.identity.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": token},
        )
        return answer

    assert "IdToken" in refresh(first["RefreshToken"])["AuthenticationResult"]
    client.revoke_token(Token=first["RefreshToken"], ClientId=idp.identity.client_id)
    with pytest.raises(ClientError) as revoked:
        refresh(first["RefreshToken"])
    assert error_code(revoked) == "NotAuthorizedException"
    assert "IdToken" in refresh(second["RefreshToken"])["AuthenticationResult"]
    assert client.get_user(AccessToken=second["AccessToken"])["Username"] == "ada@example.com"
    idp.clock.now += 1
    client.global_sign_out(AccessToken=second["AccessToken"])
    with pytest.raises(ClientError):
        refresh(second["RefreshToken"])
    with pytest.raises(ClientError):
        client.get_user(AccessToken=second["AccessToken"])


def test_another_client_id_is_refused(idp: Idp) -> None:
    idp.confirmed_user()
    with pytest.raises(ClientError) as refused:
        idp.client().initiate_auth(
            ClientId="not-our-app",
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ada@example.com", "PASSWORD": CHOSEN},
        )
    assert error_code(refused) == "ResourceNotFoundException"


def test_the_directory_adds_lists_removes_and_survives_reopening(idp: Idp, tmp_path: Path) -> None:
    idp.identity.add("ada@example.com", temporary_password=TEMPORARY)
    with pytest.raises(Conflict):
        idp.identity.add("ADA@example.com", temporary_password=TEMPORARY)
    with pytest.raises(InvalidPassword):
        idp.identity.add("bob@example.com", temporary_password="weak")
    generated = idp.identity.add("bob@example.com")
    assert generated.status == "FORCE_CHANGE_PASSWORD"
    again = EmbeddedIdentity(tmp_path / "state.db", issuer_base="http://x", hasher=FAST_HASH)
    try:
        assert [u.username for u in again.list()] == ["ada@example.com", "bob@example.com"]
        assert (again.pool_id, again.client_id) == (idp.identity.pool_id, idp.identity.client_id)
        assert again.jwks() == idp.identity.jwks()  # the signing key is kept
        again.remove("bob@example.com")
        with pytest.raises(NotFound):
            again.remove("bob@example.com")
    finally:
        again.close()
    assert [u.username for u in idp.identity.list()] == ["ada@example.com"]


def test_jwks_of_another_pool_is_not_found(idp: Idp) -> None:
    assert httpx.get(f"{idp.url}/{idp.identity.pool_id}/.well-known/jwks.json").status_code == 200
    assert httpx.get(f"{idp.url}/local_other/.well-known/jwks.json").status_code == 404
