"""The inputs the fuzzers found answering 500, kept as plain examples (each was a crash in a
handler; now a 4xx, or a 200 for Telegram, which would otherwise redeliver it forever)."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest
from tests.control_plane.conftest import FakeLambdaContext, http_event, message_event
from tests.telegram.conftest import WEBHOOK_SECRET

from serverless_openclaw.gateway import http_api, telegram_webhook, ws_message
from serverless_openclaw.local.telegram_poller import webhook_event

from .conftest import World


def _both(module: Any, event: dict[str, Any], world: World) -> list[int]:
    """The status through `handle` and through the Lambda entry point."""
    direct = module.handle(copy.deepcopy(event), world.services)
    entry = module.handler(copy.deepcopy(event), FakeLambdaContext())
    return [direct["statusCode"], entry["statusCode"]]


def test_http_event_without_a_stage_is_refused(world: World) -> None:
    event = http_event("GET", "/api/agent", world.user_id)
    del event["requestContext"]["stage"]
    assert _both(http_api, event, world) == [400, 400]


@pytest.mark.parametrize(
    "authorization", ["", "Bearer", "Bearer  ", "Basic dXNlcjpwdw==", "x.y.z", "Bearer x.y.z"]
)
def test_http_event_with_a_damaged_authorization_is_unauthorized(
    world: World, authorization: str
) -> None:
    event = http_event("GET", "/api/conversations/main", world.user_id)
    event["headers"]["authorization"] = authorization
    assert _both(http_api, event, world) == [401, 401]


def test_http_event_with_a_claims_context_but_no_token_is_unauthorized(world: World) -> None:
    """An authorizer context in the event is not trusted: only the token counts."""
    event = http_event("GET", "/api/conversations/main", None)
    event["requestContext"]["authorizer"] = {"jwt": {"claims": {"sub": world.user_id}}}
    assert _both(http_api, event, world) == [401, 401]


def test_a_binary_body_that_is_not_utf8_is_a_bad_request(world: World) -> None:
    event = http_event("PUT", "/api/settings", world.user_id, body="{}")
    event["isBase64Encoded"] = True
    event["body"] = base64.b64encode(b"\xff\xfe{}").decode()
    assert _both(http_api, event, world) == [400, 400]


def test_a_websocket_body_flagged_base64_with_non_ascii_is_a_bad_request(world: World) -> None:
    event = message_event(world.connection_id, "é€")
    event["isBase64Encoded"] = True
    assert _both(ws_message, event, world) == [400, 400]


@pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
@pytest.mark.parametrize(
    "damage",
    [
        {"headers": True},
        {"body": ["not", "text"]},
        {"isBase64Encoded": "yes"},
        {"headers": {"x-telegram-bot-api-secret-token": [WEBHOOK_SECRET]}},
    ],
)
def test_a_damaged_webhook_event_is_refused(world: World, damage: dict[str, Any]) -> None:
    event = webhook_event(json.dumps({"update_id": 123456}), WEBHOOK_SECRET)
    event.update(damage)
    assert _both(telegram_webhook, event, world) == [400, 400]


@pytest.mark.filterwarnings("ignore:Couldn't determine the remaining time left")
def test_telegram_update_ids_of_any_size_are_acknowledged(world: World) -> None:
    def update(update_id: int) -> dict[str, Any]:
        message = {
            "message_id": 7,
            "chat": {"id": world.paired_chat, "type": "private"},
            "from": {"id": world.paired_chat, "is_bot": False, "first_name": "A"},
            "text": f"hello {update_id}",
        }
        return webhook_event(
            json.dumps({"update_id": update_id, "message": message}), WEBHOOK_SECRET
        )

    before = world.services.inbox.depth(world.user_id)
    assert _both(telegram_webhook, update(1), world) == [200, 200]
    assert world.services.inbox.depth(world.user_id) == before + 1, "a small id is queued once"
    assert _both(telegram_webhook, update(10**70), world) == [200, 200]
    assert world.services.inbox.depth(world.user_id) == before + 1, "an absurd one is dropped"
