"""Real AWS event samples (tests/events/), damaged: keys dropped, values retyped or replaced,
sometimes the whole event swapped for a JSON value. Every handler answers each with a status
below 500; the watchdog survives any scheduler event."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.control_plane.conftest import (
    FakeLambdaContext,
    connect_event,
    disconnect_event,
    http_event,
    load_event,
    message_event,
)

from serverless_openclaw.gateway import http_api, watchdog, ws_connect, ws_disconnect, ws_message

from .conftest import World
from .strategies import mutate

Handler = Callable[[Any, Any], dict[str, Any]]


def _check(answer: Any) -> None:
    assert isinstance(answer, dict)
    status = answer.get("statusCode")
    assert isinstance(status, int)
    assert status < 500, answer


FUZZ = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(data=st.data())
def test_damaged_websocket_events_get_an_answer(world: World, data: st.DataObject) -> None:
    cases: list[tuple[Handler, dict[str, Any]]] = [
        (ws_connect.handler, connect_event("FuzzConn02=", "a.b.c")),
        (ws_message.handler, message_event(world.connection_id, {"action": "ping"})),
        (ws_disconnect.handler, disconnect_event("FuzzConn03=")),
    ]
    handler, base = data.draw(st.sampled_from(cases))
    _check(handler(mutate(base, data), FakeLambdaContext()))


@FUZZ
@given(method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]), data=st.data())
def test_damaged_http_events_get_an_answer(world: World, method: str, data: st.DataObject) -> None:
    base = http_event(method, "/api/conversations/main/messages", world.user_id, body="{}")
    _check(http_api.handler(mutate(base, data), FakeLambdaContext()))


@FUZZ
@given(data=st.data())
def test_damaged_scheduler_events_get_an_answer(world: World, data: st.DataObject) -> None:
    _check(watchdog.handler(mutate(load_event("eventbridge_scheduled"), data), FakeLambdaContext()))
