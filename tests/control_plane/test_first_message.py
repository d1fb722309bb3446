"""A person's first messages to a sleeping agent: one task starts, every message is queued once."""

from __future__ import annotations

import threading
import uuid
from typing import Any

from serverless_openclaw import wiring
from serverless_openclaw.adapters.aws.inbox import InboxConsumer
from serverless_openclaw.app.services import Services
from serverless_openclaw.gateway import ws_connect, ws_message
from serverless_openclaw.settings import HandlerSettings
from serverless_openclaw.wiring import wire_lambda

from .conftest import (
    Cognito,
    ConnectionsEndpoint,
    Ecs,
    FakeLambdaContext,
    body_of,
    connect_event,
    message_event,
    wait_for,
)


def _drain(services: Services, user_id: str) -> list[str]:
    consumer = InboxConsumer(services.ports.clients.sqs(), services.inbox.queue_url(user_id))
    job_ids: list[str] = []
    while True:
        batch = consumer.receive(max_messages=10, wait_seconds=1, visibility_timeout=300)
        if not batch:
            return job_ids
        for received in batch:  # FIFO: the group stays locked until these are deleted
            assert received.job is not None
            job_ids.append(received.job.jobId)
            consumer.delete(received.receipt_handle)


def test_twenty_concurrent_first_messages_start_one_task_and_queue_each_once(
    services: Services, ecs: Ecs, cognito: Cognito, connections_endpoint: ConnectionsEndpoint
) -> None:
    alice = cognito.user()
    connection = "Abc123ConnA="
    services.user_settings.update(alice.sub, {"wakeOnConnect": False})
    opened = ws_connect.handler(connect_event(connection, alice.id_token), FakeLambdaContext())
    assert opened["statusCode"] == 200
    assert services.task_state.get(alice.sub).state == "idle"

    ids = [f"msg-{uuid.uuid4().hex}" for _ in range(20)]
    barrier = threading.Barrier(len(ids))
    answers: dict[str, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def send(message_id: str) -> None:
        # Each thread is its own "Lambda container": own Services, own boto3 clients.
        container = wire_lambda(HandlerSettings())
        event = message_event(connection, {"action": "send", "id": message_id, "text": "hi"})
        barrier.wait()
        try:
            answers[message_id] = ws_message.handle(event, container)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors

    for message_id in ids:
        assert body_of(answers[message_id]) == {
            "type": "ack",
            "id": message_id,
            "conversationId": "main",
        }
    assert ecs.emulator.run_task_calls == 1
    assert len(ecs.alive_tasks_of(alice.sub)) == 1
    assert sorted(_drain(services, alice.sub)) == sorted(ids)

    # The one task is the one the row points at, and it reports itself running.
    state = wait_for(lambda: (s := services.task_state.get(alice.sub)).state == "running" and s)
    assert ecs.alive_tasks_of(alice.sub) == [state.task_arn]
    # The open tab was told the agent is starting.
    assert {"type": "status", "agent": "starting", "phase": "launching"} in (
        connections_endpoint.frames(connection)
    )


def test_a_resent_message_is_acknowledged_again_and_queued_once(
    services: Services, ecs: Ecs, cognito: Cognito
) -> None:
    bob = cognito.user()
    connection = "Abc123ConnB="
    assert (
        ws_connect.handler(connect_event(connection, bob.id_token), FakeLambdaContext())[
            "statusCode"
        ]
        == 200
    )
    frame = {"action": "send", "id": "resend-0001", "conversationId": "trip", "text": "hello"}
    first = ws_message.handler(message_event(connection, frame), FakeLambdaContext())
    again = ws_message.handler(message_event(connection, frame), FakeLambdaContext())
    assert (
        body_of(first)
        == body_of(again)
        == {
            "type": "ack",
            "id": "resend-0001",
            "conversationId": "trip",
        }
    )
    assert _drain(services, bob.sub) == ["resend-0001"]
    messages = services.conversations.list_messages(bob.sub, "trip").items
    assert [(m.id, m.role, m.text) for m in messages] == [("resend-0001", "user", "hello")]


def test_messages_beyond_the_rate_limit_are_refused_with_quota_exceeded(
    services: Services, ecs: Ecs, cognito: Cognito, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SOC_MESSAGES_PER_MINUTE", "3")
    limited = wire_lambda(HandlerSettings(), clients=services.ports.clients)
    # One minute's window for all four, however slow this machine is today.
    frozen = limited.clock().replace(second=1, microsecond=0)
    limited.clock = lambda: frozen
    wiring.reset(limited)
    carol = cognito.user()
    connection = "Abc123ConnC="
    ws_connect.handler(connect_event(connection, carol.id_token), FakeLambdaContext())
    codes = []
    for n in range(4):
        frame = {"action": "send", "id": f"rate-limit-{n:04d}", "text": "again"}
        answer = ws_message.handler(message_event(connection, frame), FakeLambdaContext())
        codes.append((answer["statusCode"], body_of(answer)["type"]))
    assert codes[:3] == [(200, "ack")] * 3
    assert codes[3] == (429, "error")
    assert _drain(limited, carol.sub) == [f"rate-limit-{n:04d}" for n in range(3)]


def test_every_open_tab_sees_the_question_another_tab_sent(
    services: Services, ecs: Ecs, cognito: Cognito, connections_endpoint: ConnectionsEndpoint
) -> None:
    alice = cognito.user()
    services.user_settings.update(alice.sub, {"wakeOnConnect": False})
    first, second = "TabOne111A=", "TabTwo222B="
    for connection in (first, second):
        opened = ws_connect.handler(connect_event(connection, alice.id_token), FakeLambdaContext())
        assert opened["statusCode"] == 200
    answer = ws_message.handler(
        message_event(first, {"action": "send", "id": "m-tab-0001", "text": "from tab one"}),
        FakeLambdaContext(),
    )
    assert body_of(answer)["type"] == "ack"

    def shown(connection: str) -> list[dict[str, Any]]:
        return [f for f in connections_endpoint.frames(connection) if f.get("type") == "message"]

    wait_for(lambda: shown(second))
    assert shown(second) == [
        {
            "type": "message",
            "id": "m-tab-0001",
            "conversationId": "main",
            "text": "from tab one",
            "source": "web",
            "createdAt": shown(second)[0]["createdAt"],
        }
    ]
    # The sending tab gets it too (it shows it once: the page merges it with its own echo).
    assert [f["id"] for f in shown(first)] == ["m-tab-0001"]
