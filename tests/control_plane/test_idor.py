"""User B can neither read, delete nor stream into user A's conversations (REST or WebSocket),
and cannot even tell whether they exist."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from serverless_openclaw.adapters.aws.stores._dynamo import encode_cursor, serialize
from serverless_openclaw.adapters.aws.stores.conversations import conversation_key
from serverless_openclaw.app.services import Services
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.gateway import http_api, ws_connect, ws_message

from .conftest import (
    Cognito,
    ConnectionsEndpoint,
    Ecs,
    FakeLambdaContext,
    body_of,
    connect_event,
    http_event,
    message_event,
)


def _seed(services: Services, user: str, conversation: str, count: int) -> None:
    start = datetime.now(UTC) - timedelta(minutes=10)
    for n in range(count):
        services.conversations.put_message(
            user,
            Message(
                id=f"{conversation}-m{n:03d}",
                conversationId=conversation,
                role="user" if n % 2 == 0 else "assistant",
                text=f"secret {n} of {user}",
                createdAt=start + timedelta(seconds=n),
            ),
        )


def test_rest_answers_another_users_conversation_exactly_like_a_missing_one(
    services: Services, cognito: Cognito
) -> None:
    alice, bob = cognito.user(), cognito.user()
    _seed(services, alice.sub, "plans", 3)
    context = FakeLambdaContext()

    def call(method: str, path: str, user: str, **kw: object) -> dict[str, object]:
        return http_api.handler(http_event(method, path, user, **kw), context)  # type: ignore[arg-type]

    for method, suffix in [("GET", ""), ("GET", "/messages"), ("DELETE", "")]:
        theirs = call(method, f"/api/conversations/plans{suffix}", bob.sub)
        missing = call(method, f"/api/conversations/nothing-here{suffix}", bob.sub)
        assert theirs["statusCode"] == missing["statusCode"] == 404
        assert theirs["body"] == missing["body"]

    listed = body_of(call("GET", "/api/conversations", bob.sub))
    assert listed == {"items": [], "nextCursor": None}

    # A cursor forged from Alice's keys is refused, not followed.
    forged = encode_cursor(
        serialize(
            {
                "conversationKey": conversation_key(alice.sub, "plans"),
                "messageId": "plans-m000",
                "orderKey": "0#plans-m000",
            }
        )
    )
    _seed(services, bob.sub, "mine", 1)
    refused = call(
        "GET", "/api/conversations/mine/messages", bob.sub, query={"cursor": forged or ""}
    )
    assert refused["statusCode"] == 400

    # Alice still has everything.
    alices = body_of(call("GET", "/api/conversations/plans/messages", alice.sub))
    assert [m["id"] for m in alices["items"]] == ["plans-m000", "plans-m001", "plans-m002"]


def test_websocket_send_into_another_users_conversation_stays_in_the_senders_own(
    services: Services, cognito: Cognito, ecs: Ecs, connections_endpoint: ConnectionsEndpoint
) -> None:
    alice, bob = cognito.user(), cognito.user()
    for user in (alice, bob):
        services.user_settings.update(user.sub, {"wakeOnConnect": False})
    _seed(services, alice.sub, "plans", 2)
    context = FakeLambdaContext()
    ws_connect.handler(connect_event("AliceConn1=", alice.id_token), context)
    ws_connect.handler(connect_event("BobConn001=", bob.id_token), context)

    frame = {"action": "send", "id": "bob-msg-0001", "conversationId": "plans", "text": "hi"}
    answer = ws_message.handler(message_event("BobConn001=", frame), context)
    assert body_of(answer) == {"type": "ack", "id": "bob-msg-0001", "conversationId": "plans"}

    # Alice's conversation is untouched; Bob's message lives in a conversation of his own.
    alices = services.conversations.list_messages(alice.sub, "plans").items
    assert [m.id for m in alices] == ["plans-m000", "plans-m001"]
    bobs = services.conversations.list_messages(bob.sub, "plans").items
    assert [(m.id, m.text) for m in bobs] == [("bob-msg-0001", "hi")]
    # The job went to Bob's inbox, as Bob's; Alice's agent was not woken and her tabs got nothing.
    assert services.inbox.depth(bob.sub) == 1
    assert services.inbox.depth(alice.sub) == 0
    assert services.task_state.get(alice.sub).state == "idle"
    assert connections_endpoint.frames("AliceConn1=") == []

    # Status and abort only ever concern the sender's own agent.
    status = body_of(
        ws_message.handler(message_event("AliceConn1=", {"action": "status"}), context)
    )
    assert status == {"type": "status", "agent": "idle"}
