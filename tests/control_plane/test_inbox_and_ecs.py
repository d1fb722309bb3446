"""Inbox queues (SQS FIFO in moto) and the ECS emulator driven by `EcsCompute`."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from serverless_openclaw.adapters.aws.clients import AwsClients
from serverless_openclaw.adapters.aws.compute import EcsCompute, EcsSettings, LaunchSpec
from serverless_openclaw.adapters.aws.inbox import Inbox, InboxConsumer, queue_name
from serverless_openclaw.contracts.jobs import ChatJob, ControlJob, WebReplyTo
from serverless_openclaw.core.errors import InvalidRequest
from serverless_openclaw.local.ecs_emulator import EcsEmulator, TaskDefinition
from serverless_openclaw.local.serve import serve_in_thread

from .conftest import wait_for


def _job(n: int, user: str = "u1") -> ChatJob:
    return ChatJob(
        jobId=f"job-{n:05d}",
        userId=user,
        source="web",
        conversationId="main",
        text=f"hello {n}",
        replyTo=WebReplyTo(),
        receivedAt=datetime.now(UTC),
    )


def test_inbox_is_created_once_deduplicates_and_redrives(aws: Any) -> None:
    sqs = AwsClients(aws.region).sqs()
    first, second = Inbox(sqs, aws.prefix), Inbox(sqs, aws.prefix)  # two "containers"
    assert first.queue_url("u1") == second.queue_url("u1")
    assert first.queue_url("u1").endswith(f"{aws.prefix}-inbox-u1.fifo")
    for n in (1, 2, 1):
        first.send(_job(n))
    first.send(
        ControlJob(jobId="ctl-000001", userId="u1", command="abort", receivedAt=datetime.now(UTC))
    )

    consumer = InboxConsumer(sqs, first.queue_url("u1"))
    got = consumer.receive(max_messages=10, wait_seconds=1)
    kinds = sorted((r.job.kind, r.job.jobId) for r in got if r.job)
    assert kinds == [("chat", "job-00001"), ("chat", "job-00002"), ("control", "ctl-000001")]

    # A job handed back again and again ends in the dead-letter queue.
    chat = next(r for r in got if r.job and r.job.jobId == "job-00001")
    for r in got:
        if r is not chat:
            consumer.delete(r.receipt_handle)
    consumer.change_visibility(chat.receipt_handle, 0)
    for _ in range(10):
        again = consumer.receive(wait_seconds=1)
        for r in again:
            consumer.change_visibility(r.receipt_handle, 0)
        if not again:
            break
    assert consumer.receive(wait_seconds=0) == []
    # ... the one dead-letter queue of the deployment, whoever's inbox it came from.
    dead = second.dead_letters()
    assert [(d.job.userId, d.job.jobId) for d in dead if d.job] == [("u1", "job-00001")]
    assert sqs.get_queue_url(QueueName=f"{aws.prefix}-dead-letters.fifo")["QueueUrl"]
    second.drop_dead_letter(dead[0].receipt_handle)
    assert first.dead_letters() == []


def test_a_new_inbox_that_is_not_found_yet_is_retried(aws: Any) -> None:
    """SQS may not find a queue for about a second after creating it: the first message of
    a new person is retried through that window, not lost."""
    sqs = AwsClients(aws.region).sqs()
    slept: list[float] = []

    def wait(delay: float) -> None:  # the queue "settles" during the second wait
        slept.append(delay)
        if len(slept) == 2:
            Inbox(sqs, aws.prefix).queue_url("u2")

    inbox = Inbox(sqs, aws.prefix, sleep=wait)
    url = inbox.queue_url("u2")
    sqs.delete_queue(QueueUrl=url)  # as if CreateQueue had not settled yet
    inbox.send(_job(7, "u2"))
    assert len(slept) == 2
    got = InboxConsumer(sqs, url).receive(wait_seconds=1)
    assert [r.job.jobId for r in got if r.job] == ["job-00007"]


def test_inboxes_accept_only_tls_and_share_one_dead_letter_queue(aws: Any) -> None:
    import json

    sqs = AwsClients(aws.region).sqs()
    inbox = Inbox(sqs, aws.prefix)
    attributes = sqs.get_queue_attributes(QueueUrl=inbox.queue_url("u3"), AttributeNames=["All"])[
        "Attributes"
    ]
    (deny,) = json.loads(attributes["Policy"])["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == attributes["QueueArn"]
    redrive = json.loads(attributes["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"].endswith(f":{aws.prefix}-dead-letters.fifo")


def test_queue_names_refuse_ids_sqs_cannot_hold() -> None:
    with pytest.raises(InvalidRequest):
        queue_name("p", "a/b")
    with pytest.raises(InvalidRequest):
        queue_name("p" * 60, "0123456789abcdef0123")
    # The longest prefix a deployment accepts holds a Cognito sub.
    assert len(queue_name("p" * 32, "0f7e4c1a-2b3d-4e5f-8a9b-0c1d2e3f4a5b")) == 80


@pytest.fixture
def compute(aws: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    script = tmp_path / "task.py"
    script.write_text(
        "import os, signal, sys, time\n"
        "print('ENV', os.environ['SOC_USER_ID'], os.environ['SOC_STATE_PREFIX'],"
        " os.environ['SOC_TASK_ID'], os.environ['FROM_DEFINITION'], flush=True)\n"
        "if os.environ.get('IGNORE_TERM'):\n"
        "    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "else:\n"
        "    signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))\n"
        "print('READY', flush=True)\n"
        "time.sleep(60)\n"
    )
    emulator = EcsEmulator(
        default=TaskDefinition(
            command=(sys.executable, str(script)), environment={"FROM_DEFINITION": "yes"}
        ),
        task_definitions={
            "stubborn": TaskDefinition(
                command=(sys.executable, str(script)),
                environment={"FROM_DEFINITION": "yes", "IGNORE_TERM": "1"},
            )
        },
        log_dir=tmp_path / "logs",
        stop_timeout_s=1.5,
    )
    handle = serve_in_thread(emulator.app)
    monkeypatch.setenv("AWS_ENDPOINT_URL_ECS", handle.url)
    clients = AwsClients(aws.region)

    def make(definition: str = "agent") -> EcsCompute:
        return EcsCompute(
            clients.ecs(), EcsSettings(cluster="agents", task_definition=definition, subnets=("s",))
        )

    yield make, emulator, tmp_path / "logs"
    emulator.close(timeout_s=2)
    handle.stop()


def test_a_task_gets_its_environment_and_stops_on_sigterm(compute: Any) -> None:
    make, _emulator, logs = compute
    ecs = make()
    arn = ecs.run_task(LaunchSpec("u1", "launch-1", "https://queue"))
    log = logs / f"{arn.rsplit('/', 1)[-1]}.log"
    wait_for(lambda: log.exists() and "READY" in log.read_text())
    assert "ENV u1 agents/u1/ launch-1 yes" in log.read_text()
    assert ecs.list_running() == [arn]
    info = ecs.describe([arn])[arn]
    assert (info.alive, info.user_id, info.launch_id) == (True, "u1", "launch-1")

    ecs.stop_task(arn, "idle")
    stopped = wait_for(lambda: (i := ecs.describe([arn])[arn]).last_status == "STOPPED" and i)
    assert (stopped.exit_code, stopped.stopped_reason) == (7, "idle")
    assert ecs.list_running() == []
    assert ecs.describe(["arn:aws:ecs:us-east-1:000000000000:task/agents/nope"]) == {}


def test_a_task_ignoring_sigterm_is_killed_after_the_stop_timeout(compute: Any) -> None:
    make, _emulator, logs = compute
    ecs = make("stubborn")
    arn = ecs.run_task(LaunchSpec("u1", "launch-2", "https://queue"))
    log = logs / f"{arn.rsplit('/', 1)[-1]}.log"
    wait_for(lambda: log.exists() and "READY" in log.read_text())
    started = time.monotonic()
    ecs.stop_task(arn, "stop")
    stopped = wait_for(lambda: (i := ecs.describe([arn])[arn]).last_status == "STOPPED" and i)
    assert time.monotonic() - started >= 1.0
    assert stopped.exit_code == 137  # SIGKILL, as ECS reports it


def test_a_task_that_exits_on_its_own_is_reported_stopped(compute: Any) -> None:
    make, emulator, _logs = compute
    ecs = make()
    arn = ecs.run_task(LaunchSpec("u1", "launch-3", "https://queue"))
    process = emulator._tasks[arn].process
    wait_for(lambda: process.pid > 0)
    process.kill()
    stopped = wait_for(lambda: (i := ecs.describe([arn])[arn]).last_status == "STOPPED" and i)
    assert stopped.stopped_reason == "Essential container in task exited"
