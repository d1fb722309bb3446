"""Arbitrary events and frames into every handler: always an answer, never a crash or a 5xx."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serverless_openclaw.app.services import Services
from serverless_openclaw.gateway import http_api, watchdog, ws_connect, ws_disconnect, ws_message

from .conftest import (
    Cognito,
    Ecs,
    FakeLambdaContext,
    connect_event,
    disconnect_event,
    http_event,
    load_event,
    message_event,
)

Handler = Callable[[Any, Any], dict[str, Any]]
CONNECTION = "FuzzConn01="
USER = "fuzz-user-0001"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)

frame_fields = {
    "action": st.sampled_from(["send", "status", "abort", "ping", "SEND", "", "delete"])
    | json_values,
    "id": st.from_regex(r"[A-Za-z0-9_.:-]{0,70}", fullmatch=True) | json_values,
    "conversationId": st.from_regex(r"[A-Za-z0-9_-]{0,70}", fullmatch=True) | json_values,
    "text": st.text(max_size=200) | st.just("x" * (33 * 1024)) | json_values,
}
conversation_ids = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)
valid_frames = st.one_of(
    st.fixed_dictionaries(
        {
            "action": st.just("send"),
            "id": st.from_regex(r"[A-Za-z0-9_.:-]{8,20}", fullmatch=True),
            "text": st.text(min_size=1, max_size=80),
        },
        optional={"conversationId": conversation_ids},
    ),
    st.fixed_dictionaries(
        {"action": st.just("abort")}, optional={"conversationId": conversation_ids}
    ),
    st.just({"action": "status"}),
    st.just({"action": "ping"}),
)
frames = (
    valid_frames.map(json.dumps)
    | st.fixed_dictionaries({}, optional=frame_fields).map(json.dumps)
    | st.text(max_size=300)
)


def _mutate(base: dict[str, Any], data: st.DataObject) -> Any:
    """Drop, retype or replace parts of a real event; sometimes replace the whole event."""
    if data.draw(st.integers(0, 9)) == 0:
        return data.draw(json_values)
    event = json.loads(json.dumps(base))
    for _ in range(data.draw(st.integers(0, 3))):
        target = event
        path = data.draw(st.lists(st.sampled_from(sorted(_keys(event))), min_size=1, max_size=1))
        keys = path[0].split("/")
        for key in keys[:-1]:
            target = target[key]
        if data.draw(st.booleans()):
            target.pop(keys[-1], None)
        else:
            target[keys[-1]] = data.draw(json_values)
        if not isinstance(event, dict):
            break
    return event


def _keys(event: Any, prefix: str = "") -> set[str]:
    found: set[str] = set()
    if isinstance(event, dict):
        for key, value in event.items():
            if "/" in str(key):
                continue
            path = f"{prefix}{key}"
            found.add(path)
            found |= _keys(value, f"{path}/")
    return found


def _check(answer: Any) -> None:
    assert isinstance(answer, dict)
    status = answer.get("statusCode")
    assert isinstance(status, int)
    assert status < 500, answer


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def fuzz_ready(services: Services, ecs: Ecs, cognito: Cognito) -> Services:
    """A known connection, so frames get past the door and reach the dispatcher."""
    user = cognito.user()
    services.user_settings.update(user.sub, {"wakeOnConnect": False})
    services.connections.put(CONNECTION, user.sub, services.clock())
    return services


@FUZZ
@given(body=frames)
def test_arbitrary_frames_get_an_answer(fuzz_ready: Services, body: str) -> None:
    answer = ws_message.handler(message_event(CONNECTION, body), FakeLambdaContext())
    _check(answer)
    frame = json.loads(answer["body"]) if "body" in answer else None
    if answer["statusCode"] >= 400:
        assert frame is not None
        assert frame["type"] == "error"
        assert frame["code"] in {
            "invalid_request",
            "payload_too_large",
            "unknown_action",
            "quota_exceeded",
            "not_found",
            "unauthorized",
        }


@FUZZ
@given(data=st.data())
def test_arbitrary_websocket_events_get_an_answer(
    fuzz_ready: Services, data: st.DataObject
) -> None:
    cases: list[tuple[Handler, dict[str, Any]]] = [
        (ws_connect.handler, connect_event("FuzzConn02=", "a.b.c")),
        (ws_message.handler, message_event(CONNECTION, {"action": "ping"})),
        (ws_disconnect.handler, disconnect_event("FuzzConn03=")),
    ]
    handler, base = data.draw(st.sampled_from(cases))
    _check(handler(_mutate(base, data), FakeLambdaContext()))


paths = st.sampled_from(
    [
        "/api/conversations",
        "/api/conversations/main",
        "/api/conversations/main/messages",
        "/api/conversations/../../etc",
        "/api/conversations/%00",
        "/api/settings",
        "/api/agent",
        "/api/agent/start",
        "/api/agent/stop",
        "/api/agent/restart",
        "/api/agent/backup",
        "/api/telegram",
        "/api/telegram/pairing-code",
        "/telegram/webhook",
        "/nowhere",
    ]
) | st.text(max_size=60).map(lambda s: "/api/" + s)


@FUZZ
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
    path=paths,
    query=st.none()
    | st.dictionaries(st.sampled_from(["limit", "cursor", "x"]), st.text(max_size=30)),
    body=st.none() | json_values.map(json.dumps) | st.text(max_size=100),
    user=st.sampled_from([USER, None, "", "x" * 3000]),
    data=st.data(),
)
def test_arbitrary_http_requests_get_an_answer(
    fuzz_ready: Services,
    method: str,
    path: str,
    query: dict[str, str] | None,
    body: str | None,
    user: str | None,
    data: st.DataObject,
) -> None:
    event = http_event(method, path, user, query=query, body=body)
    if data.draw(st.integers(0, 4)) == 0:
        event = _mutate(event, data)
    _check(http_api.handler(event, FakeLambdaContext()))


@FUZZ
@given(data=st.data())
def test_arbitrary_scheduler_events_get_an_answer(
    fuzz_ready: Services, data: st.DataObject
) -> None:
    _check(
        watchdog.handler(_mutate(load_event("eventbridge_scheduled"), data), FakeLambdaContext())
    )
