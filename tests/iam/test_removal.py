"""`user add` makes what a person needs; `user remove` takes it all back at once — with IAM
enforced, as the operator (the administrator) runs them against a deployment.

After a removal: the person's still-unexpired tokens are refused (WebSocket and REST), their
refresh token no longer works, their sockets are closed, their task is stopped and its
credentials refused by AWS, their Telegram chat gets a clear answer and reaches nothing,
their inbox and account are gone; their data is kept, or erased with `--delete-data`.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AwsEnv
from tests.control_plane.conftest import (
    Cognito,
    ConnectionsEndpoint,
    Ecs,
    FakeLambdaContext,
    body_of,
    connect_event,
    http_event,
    message_event,
    wait_for,
)
from tests.telegram.conftest import WEBHOOK_SECRET, FakeBot
from tests.telegram.conftest import LambdaContext as TelegramContext

from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.adapters.aws.inbox import queue_name
from serverless_openclaw.adapters.aws.person_data import AwsPersonalData
from serverless_openclaw.adapters.aws.state_bucket import StateBucket
from serverless_openclaw.adapters.aws.users import UserAdmin
from serverless_openclaw.app.people import add_person, remove_person
from serverless_openclaw.app.services import Services
from serverless_openclaw.core.errors import NotFound, StorageUnavailable
from serverless_openclaw.gateway import http_api, telegram_webhook, ws_connect, ws_message
from serverless_openclaw.gateway.telegram_webhook import REMOVED
from serverless_openclaw.infra.local_iam import LocalPeople
from serverless_openclaw.local.telegram_poller import webhook_event
from serverless_openclaw.settings import HandlerSettings
from serverless_openclaw.wiring import wire_lambda

from .conftest import person_credentials

pytestmark = [pytest.mark.infra, pytest.mark.iam]

CHAT = 777001


@pytest.fixture
def operator(
    handler_services: Services, cognito: Cognito, aws: AwsEnv
) -> tuple[Services, UserAdmin]:
    """What `serverless-openclaw user ...` builds: the deployment's ports with the
    operator's (the administrator's) credentials, and the user pool."""
    admin = wire_lambda(HandlerSettings())
    return admin, UserAdmin(admin.ports.clients.cognito_idp(), cognito.pool_id)  # type: ignore[attr-defined]


def _add(
    operator: tuple[Services, UserAdmin], access: LocalPeople, cognito: Cognito
) -> tuple[str, Any]:
    services, users = operator
    email = f"p{uuid.uuid4().hex[:8]}@example.com"
    added = add_person(
        services.inbox, users, access, email, temporary_password="Tmp-Passw0rd!x", send_invite=False
    )
    # The person chose their password and signed in (moto: an admin-set one).
    idp = services.ports.clients.cognito_idp()  # type: ignore[attr-defined]
    password = "Correct-Horse-9-battery"
    idp.admin_set_user_password(
        UserPoolId=cognito.pool_id, Username=email, Password=password, Permanent=True
    )
    tokens = idp.admin_initiate_auth(
        UserPoolId=cognito.pool_id,
        ClientId=cognito.client_id,
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )["AuthenticationResult"]
    return added.user_id, {"email": email, **tokens}


def _telegram(text: str) -> dict[str, Any]:
    update = {
        "update_id": int(uuid.uuid4().int % 10**8),
        "message": {
            "message_id": 5,
            "date": int(datetime.now(UTC).timestamp()),
            "chat": {"id": CHAT, "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "P"},
            "text": text,
        },
    }
    event = webhook_event(json.dumps(update), WEBHOOK_SECRET)
    answer: dict[str, Any] = telegram_webhook.handler(event, TelegramContext())
    return answer


def test_user_add_makes_the_role_and_the_inbox(
    operator: tuple[Services, UserAdmin], people: LocalPeople, cognito: Cognito, aws: AwsEnv
) -> None:
    user, _ = _add(operator, people, cognito)
    assert people.roles.exists(user)
    admin = AwsClients(aws.region).sqs()
    assert admin.get_queue_url(QueueName=queue_name(aws.prefix, user))["QueueUrl"]


def test_user_remove_takes_everything_back_at_once(
    telegram_on: None,
    operator: tuple[Services, UserAdmin],
    handler_services: Services,
    people: LocalPeople,
    cognito: Cognito,
    connections_endpoint: ConnectionsEndpoint,
    ecs: Ecs,
    fake_bot: FakeBot,
    aws: AwsEnv,
    tmp_path: Path,
) -> None:
    user, tokens = _add(operator, people, cognito)
    connection = f"c-{uuid.uuid4().hex[:8]}="
    opened = ws_connect.handler(connect_event(connection, tokens["IdToken"]), FakeLambdaContext())
    assert opened["statusCode"] == 200
    frame = {"action": "send", "id": str(uuid.uuid4()), "text": "hello"}
    assert body_of(ws_message.handler(message_event(connection, frame), FakeLambdaContext()))
    wait_for(lambda: handler_services.task_state.get(user).state == "running")
    (task,) = ecs.alive_tasks_of(user)
    handler_services.telegram.link(CHAT, user, "person")
    task_credentials: AwsCredentials = person_credentials(people, user)
    own_backup = StateBucket(
        AwsClients(aws.region, credentials=task_credentials).s3(), aws.bucket, f"agents/{user}/"
    )
    own_backup.has_objects()  # allowed while the person is in

    services, users = operator
    # Data kept: the task gets to stop (and back up) before its role goes.
    removal = remove_person(services, users, people, tokens["email"], poll_s=0.1)
    assert not ecs.alive_tasks_of(user)

    assert removal.chats_unlinked == [CHAT] and removal.task_stopped
    assert removal.sockets_closed == 1 and connection in connections_endpoint.gone
    # Their still-valid tokens: refused on the WebSocket and on the REST API.
    again = ws_connect.handler(connect_event("c-again=", tokens["IdToken"]), FakeLambdaContext())
    assert again["statusCode"] == 401
    assert (
        http_api.handler(http_event("GET", "/api/agent", user), FakeLambdaContext())["statusCode"]
        == 401
    )
    # ... the refresh token too (Cognito), and the account is gone.
    idp = AwsClients(aws.region).cognito_idp()
    with pytest.raises(idp.exceptions.ClientError):
        idp.initiate_auth(
            ClientId=cognito.client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]},
        )
    with pytest.raises(NotFound):
        users.get(tokens["email"])
    # The task stopped; its credentials no longer reach even its own person's backup
    # (moto answers a deleted role's session with a 500; AWS with AccessDenied).
    assert ecs.emulator._tasks[task].stopped_reason == "person removed"
    with pytest.raises(StorageUnavailable):
        own_backup.has_objects()
    assert not people.roles.exists(user)
    with pytest.raises(NotFound):
        services.inbox.queue_url(user, create=False)
    # Their Telegram chat: a clear answer, no job, no task.
    runs = ecs.emulator.run_task_calls
    assert _telegram("are you there?")["statusCode"] == 200
    assert fake_bot.fake.texts(CHAT)[-1] == REMOVED
    with pytest.raises(NotFound):
        services.inbox.queue_url(user, create=False)
    assert ecs.emulator.run_task_calls == runs
    # Kept: their conversation (the operator did not ask to delete data).
    assert services.conversations.list_messages(user, "main").items


def test_user_remove_with_delete_data_erases_only_that_person(
    operator: tuple[Services, UserAdmin],
    people: LocalPeople,
    cognito: Cognito,
    aws: AwsEnv,
    ecs: Ecs,
    connections_endpoint: ConnectionsEndpoint,
) -> None:
    services, users = operator
    gone, gone_tokens = _add(operator, people, cognito)
    kept, _ = _add(operator, people, cognito)
    admin = AwsClients(aws.region)
    for user in (gone, kept):
        for n in range(3):
            services.conversations.put_message(user, _message(f"m-{user[:4]}-{n}", f"c{n % 2}"))
        services.user_settings.update(user, {"idleTimeoutMinutes": 30})
        for version in range(2):
            admin.s3().put_object(
                Bucket=aws.bucket, Key=f"agents/{user}/manifest.json", Body=str(version).encode()
            )
    eraser = AwsPersonalData(
        admin.dynamodb(), admin.s3(), prefix=aws.prefix, state_bucket=aws.bucket
    )
    removal = remove_person(
        services, users, people, gone_tokens["email"], erase=eraser, sleep=lambda _: None
    )
    assert removal.data_erased["messages"] == 3
    assert removal.data_erased["conversations"] == 2
    assert removal.data_erased["backup objects"] == 2
    assert services.conversations.list_conversations(gone).items == []
    assert services.user_settings.get(gone).idleTimeoutMinutes != 30
    listed = admin.s3().list_object_versions(Bucket=aws.bucket, Prefix=f"agents/{gone}/")
    assert not listed.get("Versions") and not listed.get("DeleteMarkers")
    # The other person: untouched.
    assert len(services.conversations.list_conversations(kept).items) == 2
    assert services.user_settings.get(kept).idleTimeoutMinutes == 30
    kept_versions = admin.s3().list_object_versions(Bucket=aws.bucket, Prefix=f"agents/{kept}/")
    assert len(kept_versions["Versions"]) == 2
    assert people.roles.exists(kept) and not people.roles.exists(gone)


def _message(message_id: str, conversation: str) -> Any:
    from serverless_openclaw.contracts.records import Message

    return Message(
        id=message_id,
        conversationId=conversation,
        role="user",
        text="hello",
        createdAt=datetime.now(UTC),
    )
