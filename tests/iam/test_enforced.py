"""The control plane, the watchdog and the agent's AWS calls with IAM enforced in moto: each
as its own role, whose rights are exactly the synthesized ones. A right that is missing on
AWS is missing here: the call is refused with `AccessDenied`."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AwsEnv
from tests.control_plane.conftest import (
    Cognito,
    ConnectionsEndpoint,
    FakeLambdaContext,
    body_of,
    connect_event,
    http_event,
    message_event,
    shifted,
    wait_for,
)

from serverless_openclaw.adapters.aws.clients import AwsClients, AwsCredentials
from serverless_openclaw.adapters.aws.inbox import InboxConsumer
from serverless_openclaw.adapters.aws.state_bucket import StateBucket
from serverless_openclaw.agent.wiring import wire_task
from serverless_openclaw.app import services as ops
from serverless_openclaw.app.services import Services
from serverless_openclaw.app.spending import Spending
from serverless_openclaw.contracts.jobs import ChatJob, WebReplyTo
from serverless_openclaw.contracts.records import Message, UserSettings
from serverless_openclaw.core.errors import AccessDenied
from serverless_openclaw.core.spend import ModelCall, TokenUsage
from serverless_openclaw.gateway import http_api, watchdog, ws_connect, ws_message
from serverless_openclaw.infra.local_iam import LocalPeople, principals
from serverless_openclaw.infra.policies import RolePolicy, Statement
from serverless_openclaw.ports.inbox import MAX_RECEIVES
from serverless_openclaw.settings import AgentSettings, HandlerSettings, NamesSettings
from serverless_openclaw.wiring import wire_lambda

from .conftest import FakeBot, IamMoto, person_credentials

pytestmark = [pytest.mark.infra, pytest.mark.iam]


def _connect(cognito: Cognito, people: LocalPeople) -> tuple[str, str, str]:
    """(user id, connection id, ID token)."""
    user = cognito.user()
    people.grant(user.sub)  # what `user add` does besides Cognito
    connection = f"c-{uuid.uuid4().hex[:8]}="
    opened = ws_connect.handler(connect_event(connection, user.id_token), FakeLambdaContext())
    assert opened["statusCode"] == 200, opened
    return user.sub, connection, user.id_token


def test_a_first_message_wakes_the_agent_with_the_handler_and_agent_roles(
    handler_services: Services,
    cognito: Cognito,
    connections_endpoint: ConnectionsEndpoint,
    people: LocalPeople,
) -> None:
    user, connection, token = _connect(cognito, people)
    frame = {"action": "send", "id": str(uuid.uuid4()), "text": "hello"}
    answer = ws_message.handler(message_event(connection, frame), FakeLambdaContext())
    assert body_of(answer)["type"] == "ack", answer
    # RunTask started the no-op agent as the person's role; it marked itself running.
    wait_for(lambda: handler_services.task_state.get(user).state == "running")
    listed = http_api.handler(
        http_event("GET", "/api/agent", user, token=token), FakeLambdaContext()
    )
    assert body_of(listed)["state"] == "running"


def test_the_watchdog_sweeps_with_its_own_role_and_stops_an_idle_agent(
    handler_services: Services, watchdog_services: Services, people: LocalPeople
) -> None:
    people.grant("idle-user")
    ops.wake(handler_services, "idle-user", "test")
    wait_for(lambda: handler_services.task_state.get("idle-user").state == "running")
    report = watchdog.sweep(shifted(watchdog_services, timedelta(minutes=16)))
    assert report.errors == []
    assert report.actions["stop"] == 1
    wait_for(lambda: handler_services.task_state.get("idle-user").state == "idle")


def _without(policy: RolePolicy, action: str) -> RolePolicy:
    statements = tuple(
        Statement(s.effect, tuple(a for a in s.actions if a != action), s.resources, s.condition)
        for s in policy.statements
    )
    return RolePolicy(
        policy.name, policy.stack, policy.logical_id, tuple(s for s in statements if s.actions)
    )


def test_without_scan_the_watchdog_is_refused_as_aws_refused_it(
    moto_server: IamMoto,
    aws: AwsEnv,
    policies: dict[str, RolePolicy],
    watchdog_services: Services,
) -> None:
    assert watchdog.sweep(watchdog_services).errors == []  # allowed with the synthesized role
    crippled = principals(
        moto_server.url,
        {"watchdog": _without(policies["watchdog"], "dynamodb:Scan")},
        region=aws.region,
        admin=moto_server.admin,
        name_prefix=f"{aws.prefix}-noscan",
    )["watchdog"]
    refused = wire_lambda(HandlerSettings(), credentials=crippled)
    with pytest.raises(AccessDenied):
        watchdog.sweep(refused)


def test_the_handlers_cannot_read_backups_or_scan(
    handler_services: Services, aws: AwsEnv, credentials: dict[str, AwsCredentials]
) -> None:
    clients = AwsClients(aws.region, credentials=credentials["handlers"])
    with pytest.raises(AccessDenied):
        StateBucket(clients.s3(), aws.bucket, "agents/u1/").read_manifest()
    with pytest.raises(AccessDenied):
        list(handler_services.task_state.scan())


def _agent_settings(aws: AwsEnv, user: str, queue_url: str) -> AgentSettings:
    return AgentSettings(
        user_id=user,
        inbox_queue_url=queue_url,
        state_prefix=f"agents/{user}/",
        names=NamesSettings(prefix=aws.prefix, state_bucket=aws.bucket),
    )


def test_the_agents_calls_are_allowed_to_its_role_and_nothing_more(
    handler_services: Services,
    aws: AwsEnv,
    people: LocalPeople,
    tmp_path: Path,
) -> None:
    user = "agent-user"
    credentials = person_credentials(people, user)
    launch = ops.wake(handler_services, user, "test").launch_id
    assert launch
    wait_for(lambda: handler_services.task_state.get(user).state == "running")
    job = ChatJob(
        jobId="job-00001",
        userId=user,
        source="web",
        conversationId="main",
        text="hi",
        replyTo=WebReplyTo(),
        receivedAt=datetime.now(UTC),
    )
    handler_services.inbox.send(job)
    url = handler_services.inbox.queue_url(user)
    ports = wire_task(_agent_settings(aws, user, url), credentials=credentials)

    # The bridge: take the job, keep it, answer it (fenced by the launch), delete it.
    consumer = ports.inbox_consumer(url)
    (received,) = consumer.receive(wait_seconds=1)
    consumer.change_visibility(received.receipt_handle, 60)
    reply = Message(
        id="job-00001:r",
        conversationId="main",
        role="assistant",
        text="hello",
        createdAt=datetime.now(UTC),
        inReplyTo="job-00001",
    )
    assert ports.conversations().put_message(user, reply, fence=launch)
    assert ports.conversations().has_message(user, "main", "job-00001:r")
    consumer.delete(received.receipt_handle)
    # The reporter, the scheduler and delivery.
    ports.task_state().heartbeat(user, launch)
    ports.user_settings().get(user)
    ports.telegram().link_of_user(user)
    ports.connections().for_user(user)
    # Metering and the budget (agent/metering.py): a call counted once, totals read.
    spending = Spending(ports.counters())
    call = ModelCall(id="oc-msg-1", model="offline/offline-echo", usage=TokenUsage(input=10))
    assert spending.record(user, call, UserSettings()).new
    assert spending.totals(user, "daily").tokens == 10
    assert spending.claim_notice(user, spending.state(user, UserSettings(dailyBudgetUsd=0)))
    # State sync.
    state = tmp_path / "state.json"
    state.write_text(json.dumps({"x": 1}))
    blobs = ports.state_blobs(f"agents/{user}/")
    blobs.upload("state.json", state)
    assert blobs.manifest_versions() == []
    # ... and nothing else: no other person's backup, no queueing, no scan.
    clients = AwsClients(aws.region, credentials=credentials)
    with pytest.raises(AccessDenied):
        StateBucket(clients.s3(), aws.bucket, "elsewhere/").upload("x", state)
    with pytest.raises(AccessDenied):
        ports.inbox().send(job)
    with pytest.raises(AccessDenied):
        list(ports.task_state().scan())


def test_a_poisoned_job_reaches_the_watched_queue_and_the_person_is_told(
    handler_services: Services,
    watchdog_services: Services,
    cognito: Cognito,
    connections_endpoint: ConnectionsEndpoint,
    aws: AwsEnv,
    dead_letter_arn: str,
    synthesized: Any,
    people: LocalPeople,
) -> None:
    user, connection, _ = _connect(cognito, people)
    frame = {"action": "send", "id": "poison-1", "text": "a message nobody can answer"}
    assert body_of(ws_message.handler(message_event(connection, frame), FakeLambdaContext()))
    # Every delivery fails (the bridge hands it back): after MAX_RECEIVES it is a dead letter.
    admin = AwsClients(aws.region)
    consumer = InboxConsumer(admin.sqs(), handler_services.inbox.queue_url(user))
    for _ in range(MAX_RECEIVES + 2):
        for job in consumer.receive(wait_seconds=1):
            assert job.job is None or job.job.jobId == "poison-1"
            consumer.change_visibility(job.receipt_handle, 0)
    assert consumer.receive(wait_seconds=0) == []
    # It sits in the queue the alarm watches (the same queue, by name, as in the template).
    (alarm,) = synthesized.resources("AWS::CloudWatch::Alarm").values()
    watched = alarm["Properties"]["Dimensions"][0]["Value"]
    assert "InboxDeadLetterQueue" in json.dumps(watched)
    assert dead_letter_arn.endswith(f":{aws.prefix}-dead-letters.fifo")
    report = watchdog.sweep(watchdog_services)
    assert report.errors == []
    assert report.actions["dead_letter"] == 1
    # The person is told, under their message, and the browser got it.
    page = handler_services.conversations.list_messages(user, "main")
    (notice,) = [m for m in page.items if m.role == "assistant"]
    assert notice.id == "poison-1:r" and "could not answer" in notice.text  # its reply
    frames = connections_endpoint.frames(connection)
    assert any(f.get("type") == "stream_end" and f.get("id") == "poison-1" for f in frames)
    assert watchdog.sweep(watchdog_services).actions["dead_letter"] == 0  # dropped


def test_deploy_idle_timeout_reaches_the_watchdogs_decision(
    tmp_path_factory: pytest.TempPathFactory,
    lambda_bundle: Path,
    handler_services: Services,
    credentials: dict[str, AwsCredentials],
    monkeypatch: pytest.MonkeyPatch,
    people: LocalPeople,
) -> None:
    """`deploy --idle-timeout 30` -> the watchdog Lambda's environment -> HandlerSettings ->
    the idle stop of a person who never chose a timeout."""
    from aws_cdk import App, Stack

    from serverless_openclaw.cli.deploy_cmd import load_config
    from serverless_openclaw.infra.app import build_app

    config = load_config(None, {"idle_timeout_minutes": 30, "prefix": "idle-test"})
    app, stacks = build_app(
        config,
        code_dir=lambda_bundle,
        outdir=tmp_path_factory.mktemp("idle-synth"),
        web_dist=None,
        checks=False,
    )
    assert isinstance(app, App)
    template = app.synth().get_stack_artifact(stacks["api"].artifact_id).template  # type: ignore[attr-defined]
    assert isinstance(stacks["api"], Stack)
    (watchdog_env,) = [
        r["Properties"]["Environment"]["Variables"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler", "").endswith("watchdog.handler")
    ]
    monkeypatch.setenv(
        "SOC_DEFAULT_IDLE_TIMEOUT_MINUTES", watchdog_env["SOC_DEFAULT_IDLE_TIMEOUT_MINUTES"]
    )
    sweeper = wire_lambda(HandlerSettings(), credentials=credentials["watchdog"])
    people.grant("never-chose")
    ops.wake(handler_services, "never-chose", "test")
    wait_for(lambda: handler_services.task_state.get("never-chose").state == "running")
    assert watchdog.sweep(shifted(sweeper, timedelta(minutes=20))).actions["stop"] == 0
    assert watchdog.sweep(shifted(sweeper, timedelta(minutes=31))).actions["stop"] == 1
    # Someone who chose 10 minutes keeps their choice.
    sweeper.user_settings.update("chose", {"idleTimeoutMinutes": 10})
    assert sweeper.user_settings.get("chose").idleTimeoutMinutes == 10
    assert sweeper.user_settings.get("never-chose").idleTimeoutMinutes == 30


def test_a_dead_letter_notice_reaches_the_linked_telegram_chat_as_the_watchdog(
    handler_services: Services,
    aws: AwsEnv,
    credentials: dict[str, AwsCredentials],
    fake_bot: FakeBot,
    telegram_on: None,
) -> None:
    """The watchdog may read the bot token (and only that) to tell a Telegram user."""
    sweeper = wire_lambda(HandlerSettings(), credentials=credentials["watchdog"])
    handler_services.telegram.link(4242, "tg-user")
    job = ChatJob(
        jobId="tg-000000077",
        userId="tg-user",
        source="web",
        conversationId="main",
        text="never answered",
        replyTo=WebReplyTo(),
        receivedAt=datetime.now(UTC),
    )
    handler_services.inbox.send(job)
    consumer = InboxConsumer(
        AwsClients(aws.region).sqs(), handler_services.inbox.queue_url("tg-user")
    )
    for _ in range(MAX_RECEIVES + 2):
        for received in consumer.receive(wait_seconds=1):
            consumer.change_visibility(received.receipt_handle, 0)
    report = watchdog.sweep(sweeper)
    assert report.errors == [] and report.actions["dead_letter"] == 1
    assert any("could not answer" in text for text in fake_bot.fake.texts(4242))
