"""Each person's agent task reaches that person's data only (decision D13, issue "a removed
person is really out").

Person A's task credentials (A's own role, with the synthesized `agent-task` policy) try
every read and write the agent makes — first on A's own state prefix, inbox and rows, then on
B's. Two judges: moto, which enforces IAM on S3 objects and SQS queues, and the policy
evaluator, which gets every call A made (recorded as the dev stack records them) with the
partition keys it reached (`dynamodb:LeadingKeys`, what moto ignores) and evaluates it
against A's policy as IAM would.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import AwsEnv

from serverless_openclaw.adapters.aws.agent_roles import PERSON_TAG
from serverless_openclaw.adapters.aws.call_log import CallLog, read_calls
from serverless_openclaw.adapters.aws.clients import AwsCall, AwsClients
from serverless_openclaw.adapters.aws.inbox import Inbox, InboxConsumer
from serverless_openclaw.adapters.aws.ports import AwsConfig, AwsPorts
from serverless_openclaw.adapters.aws.state_bucket import StateBucket
from serverless_openclaw.contracts.jobs import ChatJob, WebReplyTo
from serverless_openclaw.contracts.records import Message
from serverless_openclaw.core.errors import AccessDenied, OpenClawError
from serverless_openclaw.core.task_state import Wake
from serverless_openclaw.infra.iam_requests import Deployment, requests_for
from serverless_openclaw.infra.iam_simulator import Evaluation, IamSimulator
from serverless_openclaw.infra.local_iam import ACCOUNT, LocalPeople
from serverless_openclaw.infra.policies import RolePolicy, resolve_variables

from .conftest import person_credentials

pytestmark = [pytest.mark.infra, pytest.mark.iam]

A, B = "person-a-0001", "person-b-0002"
"""Two people (Cognito subs in production; any id the inbox names allow here)."""


def _job(user: str) -> ChatJob:
    return ChatJob(
        jobId=f"job-{user}",
        userId=user,
        source="web",
        conversationId="main",
        text="hello",
        replyTo=WebReplyTo(),
        receivedAt=datetime.now(UTC),
    )


@pytest.fixture
def two_people(
    provisioned: AwsClients, aws: AwsEnv, dead_letter_arn: str, people: LocalPeople
) -> dict[str, dict[str, str]]:
    """As the administrator: both people added (roles, inboxes), each with a launch, a
    queued job, a stored question and a backup."""
    admin = AwsPorts(
        AwsConfig(
            region=aws.region,
            prefix=aws.prefix,
            state_bucket=aws.bucket,
            dead_letter_arn=dead_letter_arn,
        ),
        clients=provisioned,
    )
    facts: dict[str, dict[str, str]] = {}
    for user in (A, B):
        people.grant(user)
        inbox = admin.inbox()
        url = inbox.queue_url(user)
        inbox.send(_job(user))
        launch = f"launch-{user}"
        admin.task_state().transition(user, Wake(launch, datetime.now(UTC)))
        admin.conversations().put_message(user, _job(user).user_message())
        admin.user_settings().update(user, {"idleTimeoutMinutes": 20})
        provisioned.s3().put_object(
            Bucket=aws.bucket, Key=f"agents/{user}/manifest.json", Body=b"{}"
        )
        facts[user] = {"queue": url, "launch": launch}
    return facts


def _agent_work(
    ports: AwsPorts, clients: AwsClients, aws: AwsEnv, user: str, facts: dict[str, str], tmp: Path
) -> dict[str, bool]:
    """Every kind of call the agent makes, on `user`'s data; which ones moto refused."""
    refused: dict[str, bool] = {}

    def attempt(name: str, call: Callable[[], Any]) -> None:
        try:
            call()
            refused[name] = False
        except AccessDenied:
            refused[name] = True
        except OpenClawError:  # a condition or a missing object: IAM let it through
            refused[name] = False

    launch = facts["launch"]
    consumer = InboxConsumer(clients.sqs(), facts["queue"])
    received: list[Any] = []
    attempt("sqs receive", lambda: received.extend(consumer.receive(wait_seconds=0)))
    handle = received[0].receipt_handle if received else "not-a-receipt"
    attempt("sqs change visibility", lambda: consumer.change_visibility(handle, 30))
    attempt("sqs delete", lambda: consumer.delete(handle))
    attempt("task state read", lambda: ports.task_state().get(user))
    attempt("heartbeat", lambda: ports.task_state().heartbeat(user, launch))
    reply = Message(
        id=f"job-{user}:r",
        conversationId="main",
        role="assistant",
        text="hi",
        createdAt=datetime.now(UTC),
        inReplyTo=f"job-{user}",
    )
    conversations = ports.conversations()
    attempt("reply", lambda: conversations.put_message(user, reply, fence=launch))
    attempt("dedupe", lambda: conversations.has_message(user, "main", reply.id))
    attempt("history", lambda: conversations.list_messages(user, "main"))
    attempt("settings", lambda: ports.user_settings().get(user))
    attempt("telegram link", lambda: ports.telegram().link_of_user(user))
    attempt("connections", lambda: ports.connections().for_user(user))
    blobs = StateBucket(clients.s3(), aws.bucket, f"agents/{user}/")
    state = tmp / "state.json"
    state.write_text(json.dumps({"who": user}))
    attempt("backup read", lambda: blobs.read_manifest())
    attempt("backup versions", lambda: blobs.manifest_versions())
    attempt("backup listed", lambda: blobs.has_objects())
    attempt("backup write", lambda: blobs.upload("state.json", state))
    attempt("backup delete", lambda: blobs.delete("state.json"))
    return refused


def _evaluate(simulator: IamSimulator, policy: RolePolicy, log: Path) -> list[Evaluation]:
    deployment = Deployment(account=ACCOUNT)
    batch = []
    for line in read_calls(log):
        call = AwsCall(line["service"], line["operation"], line["params"], line["region"])
        batch += [("a", request) for request in requests_for(call, deployment)]
    assert batch
    return simulator.evaluate({"a": policy.document()}, batch, account=ACCOUNT)


def test_a_persons_task_reaches_its_own_data_and_none_of_anothers(
    two_people: dict[str, dict[str, str]],
    people: LocalPeople,
    policies: dict[str, RolePolicy],
    simulator: IamSimulator,
    aws: AwsEnv,
    tmp_path: Path,
) -> None:
    own_log, other_log = tmp_path / "own", tmp_path / "other"
    a_policy = resolve_variables(policies["agent-task"], {f"aws:PrincipalTag/{PERSON_TAG}": A})
    credentials = person_credentials(people, A)
    results: dict[str, dict[str, bool]] = {}
    for log, user in ((own_log, A), (other_log, B)):
        clients = AwsClients(
            aws.region, credentials=credentials, observers=[CallLog(log, role="agent-task")]
        )
        ports = AwsPorts(
            AwsConfig(region=aws.region, prefix=aws.prefix, state_bucket=aws.bucket),
            clients=clients,
        )
        (tmp_path / user).mkdir()
        results[user] = _agent_work(ports, clients, aws, user, two_people[user], tmp_path / user)

    # moto, where it checks: A's own work goes through; B's objects and queue are refused.
    assert not any(results[A].values()), results[A]
    for name in (
        "sqs receive", "sqs change visibility", "sqs delete",
        "backup read", "backup write", "backup delete",
    ):  # fmt: skip
        assert results[B][name], f"moto let A's task do '{name}' on B's data"

    # The evaluator, on every call: all of A's allowed; none of those on B's data.
    own = _evaluate(simulator, a_policy, own_log)
    assert [e for e in own if not e.allowed] == []
    other = _evaluate(simulator, a_policy, other_log)
    allowed = sorted(
        {f"{e.request.call} {e.request.action} {e.request.resource}" for e in other if e.allowed}
    )
    assert allowed == [], "A's task may reach B's data:\n" + "\n".join(allowed)
    reached = {e.request.action for e in other}
    assert {
        "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "dynamodb:Query",
        "dynamodb:ConditionCheckItem", "s3:GetObject", "s3:PutObject", "s3:DeleteObject",
        "s3:ListBucket", "s3:ListBucketVersions", "sqs:ReceiveMessage",
    } <= reached  # fmt: skip


def test_the_inbox_of_another_person_cannot_be_fed_or_drained_by_a_task(
    two_people: dict[str, dict[str, str]], people: LocalPeople, aws: AwsEnv
) -> None:
    """Not even its own inbox may a task write to (only the control plane queues jobs), and
    B's job stays in B's inbox whatever A's task tries."""
    clients = AwsClients(aws.region, credentials=person_credentials(people, A))
    with pytest.raises(AccessDenied):
        Inbox(clients.sqs(), aws.prefix).send(_job(A))
    with contextlib.suppress(AccessDenied):
        InboxConsumer(clients.sqs(), two_people[B]["queue"]).receive(wait_seconds=0)
    admin = AwsClients(aws.region)
    (left,) = InboxConsumer(admin.sqs(), two_people[B]["queue"]).receive(wait_seconds=0)
    assert left.job is not None and left.job.userId == B
