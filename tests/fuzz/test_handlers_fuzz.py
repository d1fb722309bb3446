"""Several thousand generated frames, events and Telegram updates into every Lambda handler,
through `handle(event, services)` (where a bug shows as an exception with its traceback) and
through the real entry point `handler(event, context)` (where it would show as a 500).

The promise: always an answer, never an unhandled exception, never a 5xx — and the answers
keep their contracts (error frames with a stable code, JSON error bodies, an unpaired
Telegram chat never reaching an inbox).

Example counts: `FUZZ_SCALE` (environment, default 1.0) multiplies them.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import event as tally
from hypothesis import strategies as st
from tests.control_plane.conftest import FakeLambdaContext, message_event

from serverless_openclaw.gateway import (
    http_api,
    telegram_webhook,
    ws_connect,
    ws_disconnect,
    ws_message,
)

from .conftest import World, check_answer
from .strategies import (
    frame_bodies,
    http_events,
    telegram_ints,
    telegram_webhook_events,
    websocket_events,
)

SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
ERROR_CODES = {
    "invalid_request",
    "payload_too_large",
    "unknown_action",
    "quota_exceeded",
    "not_found",
    "unauthorized",
    "conflict",
}


def fuzz(examples: int) -> Callable[[Any], Any]:
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def invoke(module: Any, event: Any, world: World, via_entry_point: bool) -> dict[str, Any]:
    """One call, through `handle` or through the Lambda entry point."""
    event = copy.deepcopy(event)
    if via_entry_point:
        answer: dict[str, Any] = module.handler(event, FakeLambdaContext())
    else:
        answer = module.handle(event, world.services)
    tally(f"{module.__name__.rsplit('.', 1)[-1]} -> {check_answer(answer)}")
    return answer


@fuzz(1500)
@given(body=frame_bodies, via_entry_point=st.booleans())
def test_client_frames(world: World, body: str, via_entry_point: bool) -> None:
    answer = invoke(ws_message, message_event(world.connection_id, body), world, via_entry_point)
    frame = json.loads(answer["body"]) if "body" in answer else None
    if answer["statusCode"] >= 400:
        assert frame is not None and frame["type"] == "error", answer
        assert frame["code"] in ERROR_CODES, frame
    elif frame is not None:
        assert frame["type"] in {"ack", "pong", "status"}, frame
        if frame["type"] == "ack":
            assert frame["id"] == json.loads(body)["id"]


HANDLERS = {"connect": ws_connect, "message": ws_message, "disconnect": ws_disconnect}


@fuzz(1000)
@given(data=st.data(), via_entry_point=st.booleans())
def test_websocket_events(world: World, data: st.DataObject, via_entry_point: bool) -> None:
    route, event = data.draw(websocket_events(world.connection_id))
    answer = invoke(HANDLERS[route], event, world, via_entry_point)
    if route == "connect" and answer["statusCode"] == 200:
        pytest.fail(f"a generated token opened a connection: {event}")


@fuzz(1500)
@given(data=st.data(), via_entry_point=st.booleans())
def test_http_api_events(world: World, data: st.DataObject, via_entry_point: bool) -> None:
    event = data.draw(http_events(world.user_id))
    answer = invoke(http_api, event, world, via_entry_point)
    if answer["statusCode"] >= 400 and answer.get("body"):
        error = json.loads(answer["body"])["error"]
        assert error["code"] in ERROR_CODES, error


@pytest.mark.filterwarnings(
    # `handle` called without the Lambda entry point has no context, so powertools cannot
    # bound the in-progress marker by the remaining time and warns (the entry point passes it).
    "ignore:Couldn't determine the remaining time left"
)
@fuzz(2000)
@given(data=st.data(), via_entry_point=st.booleans())
def test_telegram_updates(world: World, data: st.DataObject, via_entry_point: bool) -> None:
    chats = st.one_of(st.just(world.paired_chat), telegram_ints)
    event = data.draw(telegram_webhook_events(chats))
    before = None if _may_come_from(world.paired_chat, event) else depth(world)
    answer = invoke(telegram_webhook, event, world, via_entry_point)
    assert answer["statusCode"] in {200, 400, 401, 413}, answer
    if before is not None:
        assert depth(world) == before, (
            "an update that does not come from the paired chat reached the user's inbox"
        )


def depth(world: World) -> int:
    return world.services.inbox.depth(world.user_id)


def _may_come_from(chat_id: int, event: Any) -> bool:
    """False only when the event certainly does not name the chat (a base64 body is not
    searched, so it counts as possibly from it)."""
    if not isinstance(event, dict) or event.get("isBase64Encoded"):
        return True
    return str(chat_id) in json.dumps(event)
