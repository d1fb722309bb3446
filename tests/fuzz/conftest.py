"""The fuzzers' world: every handler wired to the memory adapters (so thousands of examples
take seconds, not minutes of moto over HTTP), the real JWT verifier over a JWKS served on
loopback (beside it, `TestTokens` for the HTTP events' made-up users), and the fake Telegram
Bot API over HTTP. Telegram is configured and the per-minute message quota lifted, so
generated messages keep reaching the inbox and the wake path instead of stopping at 429.

What the fuzzers check is the handlers' promise (always an answer, never an unhandled
exception, never a 5xx); that the aws adapters behave like the memory ones is the contract
suite's job (tests/contracts), and the handlers against moto are tests/control_plane.

`Services` is also installed as the container's (`wiring.reset`), so the real Lambda entry
points `handler(event, context)` use it too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from tests.control_plane.conftest import TestTokens
from tests.telegram.conftest import WEBHOOK_SECRET

from serverless_openclaw import wiring
from serverless_openclaw.adapters.jwks import TokenVerifier
from serverless_openclaw.adapters.memory import MemoryPorts
from serverless_openclaw.app.services import Services
from serverless_openclaw.local.fake_telegram import DEFAULT_TOKEN, FakeTelegram
from serverless_openclaw.local.serve import serve_in_thread
from serverless_openclaw.settings import HandlerSettings, QuotaSettings, TelegramSettings

PAIRED_CHAT = 424242
CONNECTION = "FuzzConn01="
USER = "fuzz-user-0001"
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_fuzz"
CLIENT_ID = "fuzz-web-client"


@dataclass(frozen=True, repr=False)
class World:
    services: Services
    ports: MemoryPorts
    user_id: str
    connection_id: str
    paired_chat: int
    fake_telegram: FakeTelegram

    def __repr__(self) -> str:  # keeps hypothesis' failure reports readable
        return f"World(user={self.user_id})"


def _jwks_app() -> Starlette:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    keys = {"keys": [{**jwk, "kid": "fuzz", "alg": "RS256", "use": "sig"}]}

    async def jwks(_: Any) -> JSONResponse:
        return JSONResponse(keys)

    return Starlette(routes=[Route("/.well-known/jwks.json", jwks)])


@pytest.fixture(scope="session")
def jwks_url() -> Iterator[str]:
    server = serve_in_thread(_jwks_app())
    yield f"{server.url}/.well-known/jwks.json"
    server.stop()


@pytest.fixture(scope="session")
def fake_telegram() -> Iterator[tuple[FakeTelegram, str]]:
    fake = FakeTelegram(token=DEFAULT_TOKEN)
    server = serve_in_thread(fake.app)
    yield fake, server.url
    server.stop()


@pytest.fixture
def world(jwks_url: str, fake_telegram: tuple[FakeTelegram, str]) -> Iterator[World]:
    fake, telegram_url = fake_telegram
    settings = HandlerSettings.given(
        quotas=QuotaSettings.given(messages_per_minute=1_000_000),
        telegram=TelegramSettings.given(
            telegram_api_base=telegram_url,
            telegram_bot_token=SecretStr(DEFAULT_TOKEN),
            telegram_webhook_secret=SecretStr(WEBHOOK_SECRET),
        ),
    )
    real = TokenVerifier(issuer=ISSUER, client_id=CLIENT_ID, jwks_url=jwks_url)
    ports = MemoryPorts(verifier=TestTokens(lambda: real))
    services = Services(settings, ports)
    services.user_settings.update(USER, {"wakeOnConnect": False})
    services.connections.put(CONNECTION, USER, services.clock())
    services.telegram.link(PAIRED_CHAT, USER, "fuzzer")
    wiring.reset(services)
    try:
        yield World(services, ports, USER, CONNECTION, PAIRED_CHAT, fake)
    finally:
        wiring.reset(None)
        services.close()


def check_answer(answer: Any) -> int:
    """A Lambda proxy answer with a status code below 500; returns the status."""
    assert isinstance(answer, dict), answer
    status = answer.get("statusCode")
    assert isinstance(status, int), answer
    assert status < 500, answer
    return status
